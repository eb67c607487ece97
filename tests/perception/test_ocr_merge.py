"""Merging readings over time, region planning and reading order (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from scenewatch.perception.ocr.layout import reading_order
from scenewatch.perception.ocr.merge import TextMerger, text_distance
from scenewatch.perception.ocr.regions import RegionPlanner
from scenewatch.perception.ocr.settings import OcrSettings, Zone
from scenewatch.types import Detections, Frame, Keyframe, TextRegion

NONE = np.zeros((0, 4), np.float32)


def reg(text: str, box: tuple[float, float, float, float], score: float = 0.9) -> TextRegion:
    return TextRegion(text, np.asarray(box, np.float32), score)


def test_text_distance() -> None:
    assert text_distance("PRIORITY MAIL", "priority  mail") == 0.0
    assert text_distance("PRIORITY MAIL", "PRI0RITY MAlL") == pytest.approx(2 / 13)
    assert text_distance("EXIT", "ENTRANCE") > 0.5


def test_same_text_same_place_is_one_span_with_best_reading() -> None:
    m = TextMerger(OcrSettings(hold_seconds=2.0))
    box = (100, 50, 300, 80)
    new, _, _ = m.update(1.0, [reg("PRI0RITY MAIL", box, 0.7)], None, NONE)
    assert len(new) == 1
    _, improved, _ = m.update(2.0, [reg("PRIORITY MAIL", (102, 51, 301, 80), 0.95)], None, NONE)
    assert improved and improved[0].text == "PRIORITY MAIL"
    m.update(3.0, [reg("PRIORITY MAlL", box, 0.8)], None, NONE)
    [span] = m.close()
    assert (span.start, span.end, span.text, span.score, span.readings) == (1.0, 3.0, "PRIORITY MAIL", 0.95, 3)


def test_part_of_a_line_merges_and_the_fuller_reading_wins() -> None:
    m = TextMerger(OcrSettings())
    m.update(0.0, [reg("PRI", (580, 200, 640, 230), 1.0)], None, NONE)
    m.update(0.2, [reg("PRIORIT", (520, 200, 640, 230), 1.0)], None, NONE)
    m.update(0.4, [reg("PRIORITY MAIL", (400, 200, 620, 230), 0.99)], None, NONE)
    m.update(0.6, [reg("PRIORITY M", (400, 200, 620, 230), 1.0)], None, NONE)
    [span] = m.close()
    assert span.text == "PRIORITY MAIL"


def test_same_text_elsewhere_and_other_text_are_separate() -> None:
    m = TextMerger(OcrSettings())
    m.update(0.0, [reg("EXIT", (10, 10, 60, 30)), reg("EXIT", (500, 10, 550, 30)), reg("ENTRANCE", (10, 40, 90, 60))],
             None, NONE)
    assert len(m.close()) == 3


def test_unchanged_text_persists_without_rereading_and_ends_when_gone() -> None:
    m = TextMerger(OcrSettings(hold_seconds=2.0))
    box = (100, 100, 200, 120)
    m.update(0.0, [reg("OPEN", box)], None, NONE)
    for t in (1.0, 2.0, 3.0, 4.0):  # nothing read, nothing changed there: still visible
        _, _, closed = m.update(t, [], np.zeros((0, 4), np.float32), np.array([[400, 0, 500, 50]], np.float32))
        assert not closed
    # the place changed at 5.0, was read, and the text is gone: it went at 5.0
    m.update(5.0, [], np.array([[80, 80, 250, 150]], np.float32), np.array([[80, 80, 250, 150]], np.float32))
    _, _, closed = m.update(6.0, [], np.zeros((0, 4), np.float32), NONE)
    assert not closed
    _, _, closed = m.update(7.5, [], np.zeros((0, 4), np.float32), NONE)
    [span] = closed
    assert (span.start, span.end) == (0.0, 5.0)


def test_text_found_gone_on_a_routine_reread_ends_halfway() -> None:
    m = TextMerger(OcrSettings(hold_seconds=1.0))
    m.update(0.0, [reg("OPEN", (100, 100, 200, 120))], None, NONE)
    m.update(1.0, [], np.array([[80, 80, 250, 150]], np.float32), NONE)  # re-read, nothing changed, not there
    [span] = m.update(2.5, [], np.zeros((0, 4), np.float32), NONE)[2]
    assert span.end == 0.5


def test_text_under_a_change_is_not_assumed_to_stay() -> None:
    m = TextMerger(OcrSettings(hold_seconds=1.0))
    m.update(0.0, [reg("SALE", (10, 10, 60, 30))], None, NONE)
    m.update(1.0, [], np.zeros((0, 4), np.float32), np.array([[0, 0, 100, 100]], np.float32))
    _, _, closed = m.update(2.5, [], np.zeros((0, 4), np.float32), NONE)
    assert [s.end for s in closed] == [0.0]


def test_two_columns_read_column_first() -> None:
    title = [20, 10, 580, 40]
    left = [[20, 60 + 30 * i, 280, 80 + 30 * i] for i in range(4)]
    right = [[320, 60 + 30 * i, 580, 80 + 30 * i] for i in range(4)]
    boxes = np.asarray([title, *[b for pair in zip(left, right, strict=True) for b in pair]], np.float32)
    order = reading_order(boxes)
    assert order == [0, 1, 3, 5, 7, 2, 4, 6, 8]
    assert reading_order(np.zeros((0, 4), np.float32)) == []


def _kf(t: float, reason: str = "floor", changed: list[list[float]] | None = None,
        img: np.ndarray | None = None) -> Keyframe:
    img = np.zeros((360, 640, 3), np.uint8) if img is None else img
    boxes = np.asarray(changed or [], np.float32).reshape(-1, 4)
    return Keyframe(Frame(img, t, "s"), reason, 0.1, boxes)  # type: ignore[arg-type]


def test_region_planner() -> None:
    p = RegionPlanner(OcrSettings(zones=[Zone(name="door", box=(0, 0, 100, 100))], reread_seconds=5.0))
    assert p.plan(_kf(0.0, "first"), None, NONE) is None  # first keyframe: whole frame
    assert len(p.plan(_kf(1.0), None, NONE)) == 0  # zone was just read with the frame
    dets = Detections(np.array([[300, 100, 400, 200]], np.float32), np.array([0.9], np.float32), ("box",))
    got = p.plan(_kf(1.5, changed=[[300, 100, 400, 200]]), dets, NONE)
    assert got is not None and len(got) == 2  # the change and the detection under it
    assert len(p.plan(_kf(2.0), dets, NONE)) == 0  # unchanged detection: not re-read yet
    got = p.plan(_kf(6.6), dets, NONE)
    # after reread_seconds: the zone (last read with the whole frame) is read again; the detection's
    # pixels are as they were when it was read at 1.5 s, so it is not
    assert got is not None and got.tolist() == [[0, 0, 100, 100]] and p.skipped == 1
    # a change that cuts a known text line grows to take the whole line in
    got = p.plan(_kf(7.0, changed=[[500, 0, 600, 60]]), None, np.array([[450, 20, 560, 40]], np.float32))
    assert got is not None and got[0].tolist() == [450, 0, 600, 60]
    assert p.plan(_kf(8.0, "scene", [[0, 0, 640, 360]]), None, NONE) is None


def _camera(rng: np.random.Generator, gain: float, label: str | None = None) -> np.ndarray:
    """A textured grey scene with sensor noise and a light gain; ``label`` paints text into 300..420 × 100..160."""
    from PIL import Image, ImageDraw

    yy, xx = np.mgrid[0:360, 0:640]
    base = 90 + 40 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).convert("RGB")
    if label:
        ImageDraw.Draw(im).rectangle((300, 100, 420, 160), fill=(240, 240, 235))
        ImageDraw.Draw(im).text((310, 120), label, fill=(10, 10, 10))
    noisy = np.asarray(im, np.float32) * gain + rng.normal(0, 3.0, (360, 640, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_region_planner_rereads_only_what_changed() -> None:
    rng = np.random.default_rng(0)
    p = RegionPlanner(OcrSettings(reread_seconds=5.0))
    dets = Detections(np.array([[290, 90, 430, 170]], np.float32), np.array([0.9], np.float32), ("box",))
    first = p.plan(_kf(0.0, changed=[[280, 80, 440, 180]], img=_camera(rng, 1.0, "EXIT")), dets, NONE)
    assert first is not None and len(first) == 2
    # sensor noise and 4 % more light: the same look, not read again at any re-read time
    for t in (6.0, 12.0, 18.0, 24.0):
        assert len(p.plan(_kf(t, img=_camera(rng, 1.0 + t / 600, "EXIT")), dets, NONE)) == 0
    assert p.skipped == 4
    # the label's text changed without the sampler noticing: read at the next re-read time
    got = p.plan(_kf(29.5, img=_camera(rng, 1.04, "OPEN")), dets, NONE)
    assert got is not None and got.tolist() == [[290, 90, 430, 170]]
    # unchanged for STALE_FACTOR re-read periods since its last read: read anyway
    reads = [t for t in np.arange(31.0, 70.0, 1.0)
             if len(p.plan(_kf(float(t), img=_camera(rng, 1.04, "OPEN")), dets, NONE))]
    assert reads == [60.0]  # last read 29.5 s; the same look at 35, 40, 45, 50 and 55 s


def test_known_text_lines_are_reread_whenever_due_boxes_only_when_changed() -> None:
    """Known text lines are re-read at every re-read time (their readings grow and follow a label
    leaving); an unchanged object box over the same place is not."""
    rng = np.random.default_rng(1)
    line = np.array([[300, 100, 420, 160]], np.float32)
    p = RegionPlanner(OcrSettings(reread_seconds=5.0))
    first = p.plan(_kf(0.0, changed=[[280, 80, 440, 180]], img=_camera(rng, 1.0, "EXIT")), None, NONE)
    assert first is not None and len(first) == 1
    reads = [t for t in np.arange(1.0, 21.0, 1.0)
             if len(p.plan(_kf(float(t), img=_camera(rng, 1.0 + t / 900, "EXIT")), None, line))]
    assert reads == [5.0, 10.0, 15.0, 20.0]
    dets = Detections(np.array([[290, 90, 430, 170]], np.float32), np.array([0.9], np.float32), ("box",))
    p = RegionPlanner(OcrSettings(reread_seconds=5.0))
    p.plan(_kf(0.0, changed=[[280, 80, 440, 180]], img=_camera(rng, 1.0, "EXIT")), dets, NONE)
    reads = [t for t in np.arange(1.0, 21.0, 1.0)
             if len(p.plan(_kf(float(t), img=_camera(rng, 1.0 + t / 900, "EXIT")), dets, NONE))]
    assert reads == []  # read at t = 0 (it overlapped the change), the same look since
