"""Text over time in videos: the shared scene, a generated labelled-box scene, the stage, all-text video."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from ocr_helpers import draw_text, read_video, reader, write_video

from scenewatch.errors import SourceError
from scenewatch.perception.ocr.settings import OcrSettings

FIXT = Path(__file__).parents[1] / "fixtures"


def test_shared_scene_label_reported_once_with_its_span(scene_truth: dict, tmp_path: Path) -> None:
    truth = scene_truth["text"][0]
    obs = read_video(FIXT / "scene" / "scene.mp4", OcrSettings(), media_dir=tmp_path, reader=reader())
    assert [o.text for o in obs] == [truth["text"]]
    start, end = truth["fully_visible_span"]
    assert abs(obs[0].start - start) <= 1.0 and abs(obs[0].end - end) <= 1.0, (obs[0].start, obs[0].end)
    assert obs[0].kind == "text" and obs[0].confidence > 0.9
    thumb = tmp_path / obs[0].payload.thumbnail  # relative to the media root (store.media_dir)
    assert thumb.is_file() and thumb.read_bytes()[:2] == b"\xff\xd8"


def _labelled_box_scene(path: Path) -> dict:
    """A parcel with a label appears at 3.0 s and goes at 9.0 s; a sign is up all along; a ball moves."""
    fps, seconds, (w, h) = 10, 12.0, (480, 270)
    sign = np.asarray(draw_text([("GATE B", (8, 4))], (110, 40), font_px=26, bg=(30, 90, 30), fg=(255, 255, 255)))
    label = np.asarray(draw_text([("FRAGILE 4417", (8, 6))], (190, 40), font_px=22))
    frames = []
    for i in range(int(seconds * fps)):
        t = i / fps
        img = np.full((h, w, 3), (90, 100, 110), np.uint8)
        img[20:60, 20:130] = sign
        x = int(40 + 30 * t) % (w - 40)
        img[200:230, x:x + 30] = (200, 30, 30)
        if 3.0 <= t < 9.0:
            img[110:190, 240:450] = (150, 110, 60)
            img[125:165, 250:440] = label
        frames.append(img)
    write_video(path, frames, fps)
    return {"FRAGILE 4417": (3.0, 9.0), "GATE B": (0.0, seconds - 1 / fps)}


def test_generated_labelled_box_scene(tmp_path: Path) -> None:
    truth = _labelled_box_scene(tmp_path / "parcel.mp4")
    obs = read_video(tmp_path / "parcel.mp4", OcrSettings(), reader=reader())
    assert sorted(o.text for o in obs) == sorted(truth)  # each text once
    for o in obs:
        start, end = truth[o.text]
        assert abs(o.start - start) <= 1.0 and abs(o.end - end) <= 1.0, (o.text, o.start, o.end)


WALL0 = 1_795_000_000.0


def test_text_stage_emits_growing_rows(tmp_path: Path) -> None:
    from scenewatch.config import load_config
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.ingest.settings import KeyframeSettings
    from scenewatch.ingest.sources import MediaSource, VideoItem
    from scenewatch.perception.ocr.stage import TextStage
    from scenewatch.perception.registry import STAGES
    from scenewatch.perception.stage import KeyframeShared, StageContext
    from scenewatch.types import Detections, Keyframe

    _labelled_box_scene(tmp_path / "parcel.mp4")
    source = MediaSource(str(tmp_path / "parcel.mp4"))
    cfg = load_config(None, {"store": {"path": str(tmp_path / "t.db")}})
    stage = STAGES.get("text")(StageContext(cfg.perception, source.info, tmp_path / "media"))
    assert isinstance(stage, TextStage) and stage.inputs == frozenset({"keyframe"})
    stage.timeline.reader = reader()
    sampler = KeyframeSampler(KeyframeSettings(), source.info.width, source.info.height)
    parcel = Detections(np.array([[240, 110, 450, 190]], np.float32), np.array([0.8], np.float32), ("box",))
    emits = []
    for item in source.items():
        if isinstance(item, VideoItem) and (got := sampler.consider(item.thumbnail(160), item.pts)):
            shared = KeyframeShared(parcel if 3.0 <= item.pts < 9.0 else None)
            frame = replace(item.to_frame(), wall_time=WALL0 + item.pts)  # as a live source would stamp it
            emits += stage.on_keyframe(Keyframe(frame, *got), shared)
    emits += stage.close()
    keys = {e.key for e in emits}
    assert keys == {"text:0", "text:1"}
    assert all(e.observation.wall_start == pytest.approx(WALL0 + e.observation.start) for e in emits)
    for key in keys:
        mine = [e for e in emits if e.key == key]
        assert all(not e.final for e in mine[:-1]) and mine[-1].final
        assert mine[-1].observation.kind == "text"
    finals = {e.observation.text: e.observation for e in emits if e.final}
    assert set(finals) == {"GATE B", "FRAGILE 4417"}
    assert (tmp_path / finals["FRAGILE 4417"].payload.thumbnail).is_file()  # relative to the media root


def test_all_text_video_is_bounded_per_frame(tmp_path: Path) -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "kilo", "lima"]
    pages = []
    for p in range(3):
        lines = [(f"{words[(i + p) % 12]} {i:02d} {words[(i * 7 + p) % 12]}", (10 + 320 * (i % 2), 6 + 14 * (i // 2)))
                 for i in range(50)]
        pages.append(np.asarray(draw_text(lines, (640, 360), font_px=11)))
    write_video(tmp_path / "pages.mp4", [pages[int(i / 5)] for i in range(15)], fps=5)
    settings = OcrSettings(max_lines=12, video_fps=1.0)
    r = reader()
    old = r.settings
    r.settings = settings
    try:
        t0 = time.perf_counter()
        obs = read_video(tmp_path / "pages.mp4", settings, reader=r)
        elapsed = time.perf_counter() - t0
    finally:
        r.settings = old
    assert elapsed < 60
    assert 12 <= len(obs) <= 12 * 3 * 2  # bounded lines per keyframe, 3 pages (+ floor keyframes)


def test_video_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_video(tmp_path / "missing.mp4", reader=reader())
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError):
        read_video(tmp_path / "junk.mp4", reader=reader())
    audio_only = FIXT / "audio_events" / "ion_glass.ogg"
    with pytest.raises(SourceError, match="no video stream"):
        read_video(audio_only, reader=reader())
