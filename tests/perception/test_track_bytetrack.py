"""ByteTrack tracking and the presence gate, on generated boxes with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenewatch.perception.detect.boxes import rle_decode
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.perception.track import TRACKERS, Tracker
from scenewatch.perception.track.bytetrack import ByteTrack
from scenewatch.perception.track.presence import MAX_BOXES_PER_TRACK, TrackBook
from scenewatch.types import Detections, Frame


def dets(boxes: list[list[float]], labels: list[str] | None = None, score: float = 0.8,
         masks: np.ndarray | None = None) -> Detections:
    labels = labels or ["person"] * len(boxes)
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), score, np.float32),
                      tuple(labels), masks=masks)


def test_registry_and_protocol() -> None:
    assert TRACKERS.get("bytetrack") is ByteTrack
    assert isinstance(ByteTrack(), Tracker)


def test_moving_box_keeps_one_id_from_the_first_frame() -> None:
    tr = ByteTrack()
    ids = []
    for i in range(30):
        x = 10 + 8 * i
        out = tr.update(dets([[x, 50, x + 60, 170]]), timestamp=i * 0.2)
        ids.append(int(out.track_ids[0]))  # type: ignore[index]
    assert ids[0] >= 1 and set(ids) == {ids[0]}


def test_short_occlusion_keeps_id_long_absence_does_not() -> None:
    tr = ByteTrack(DetectSettings(hold_seconds=2.0))
    first = tr.update(dets([[100, 100, 200, 300]]), timestamp=0.0).track_ids[0]  # type: ignore[index]
    tr.update(dets([[100, 100, 200, 300]]), timestamp=0.5)
    for t in (1.0, 1.5, 2.0):  # hidden for 1.5 s
        tr.update(Detections.empty(), timestamp=t)
    again = tr.update(dets([[104, 100, 204, 300]]), timestamp=2.5).track_ids[0]  # type: ignore[index]
    assert again == first
    for t in np.arange(3.0, 6.5, 0.5):  # hidden for 4 s > hold
        tr.update(Detections.empty(), timestamp=float(t))
    later = tr.update(dets([[104, 100, 204, 300]]), timestamp=7.0).track_ids[0]  # type: ignore[index]
    assert later != first


def test_labels_are_tracked_apart_and_order_is_kept() -> None:
    tr = ByteTrack()
    for i in range(5):
        out = tr.update(dets([[0, 0, 100, 100], [5, 5, 100, 100]], ["chair", "person"]), timestamp=i * 0.2)
        assert out.labels == ("chair", "person")
        assert out.track_ids is not None and len(set(out.track_ids.tolist())) == 2


def test_reset_never_reuses_ids() -> None:
    tr = ByteTrack()
    a = tr.update(dets([[0, 0, 50, 50]]), timestamp=0.0).track_ids[0]  # type: ignore[index]
    tr.reset()
    b = tr.update(dets([[0, 0, 50, 50]]), timestamp=0.0).track_ids[0]  # type: ignore[index]
    assert a != b and b > a


def test_presence_n_of_m_and_hold(tmp_path: Path) -> None:
    s = DetectSettings(presence_n=2, presence_m=3, hold_seconds=1.0)
    book = TrackBook(s, None, {"person": ("courier",)})
    d = dets([[0, 0, 10, 10]])
    tracked = Detections(d.xyxy, d.scores, d.labels, np.array([7]))
    empty = Detections.empty()
    assert book.update(0.0, tracked).open == ()          # 1 of 3
    assert book.update(0.5, empty).open == ()            # 1 of 3 (a miss)
    (rec,) = book.update(1.0, tracked).open              # 2 of 3 → present
    assert rec.track_id == 7 and rec.concepts == ("courier",) and rec.first_seen == 0.0 and rec.last_seen == 1.0
    assert book.update(1.5, empty).closed == ()          # unseen 0.5 s < hold
    (closed,) = book.update(2.5, empty).closed           # unseen 1.5 s > hold
    assert closed.track_id == 7 and [b[0] for b in closed.boxes] == [0.0, 1.0]
    assert book.tracks == {}


def test_box_history_is_bounded_and_thumbnail_and_mask_saved(tmp_path: Path) -> None:
    book = TrackBook(DetectSettings(presence_n=1, presence_m=1), tmp_path / "media")
    img = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((1, 120, 160), bool)
    mask[0, 20:60, 30:90] = True
    for i in range(2000):
        d = dets([[30, 20, 90, 60]], score=0.5 + (i == 10) * 0.4, masks=mask)
        book.update(i * 0.1, Detections(d.xyxy, d.scores, d.labels, np.array([3]), d.masks), Frame(img, i * 0.1, "s"))
    (rec,) = book.close_all()
    assert len(rec.boxes) <= MAX_BOXES_PER_TRACK + 1
    assert rec.boxes[0][0] == 0.0 and rec.boxes[-1][0] == pytest.approx(199.9)
    assert rec.best_score == pytest.approx(0.9)
    assert rec.thumbnail is not None and Path(rec.thumbnail).is_file()
    assert rec.mask_rle is not None and np.array_equal(rle_decode(rec.mask_rle), mask[0])


def test_low_score_keyframe_keeps_the_id_but_starts_no_track() -> None:
    s = DetectSettings(score_threshold=0.35, low_score_threshold=0.2)
    tr = ByteTrack(s)
    first = tr.update(dets([[100, 100, 200, 300]], score=0.8), timestamp=0.0).track_ids[0]  # type: ignore[index]
    dip = tr.update(dets([[108, 100, 208, 300]], score=0.25), timestamp=0.5).track_ids[0]  # type: ignore[index]
    back = tr.update(dets([[116, 100, 216, 300]], score=0.8), timestamp=1.0).track_ids[0]  # type: ignore[index]
    assert dip == first == back
    lone = tr.update(dets([[400, 0, 450, 60]], ["cup"], score=0.25), timestamp=1.5).track_ids  # type: ignore[union-attr]
    assert lone is not None and lone.tolist() == [-1]
