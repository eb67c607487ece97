"""One object, one track: a moving object whose detector class flips keeps one id and a majority label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.perception.detect.stage import track_observation
from scenewatch.perception.track.bytetrack import ByteTrack
from scenewatch.perception.track.presence import TrackBook
from scenewatch.types import Detections, Frame

W, H = 640, 360


def _ball_frame(x: float, y: float, r: int = 24) -> Frame:
    import cv2

    img = np.full((H, W, 3), (200, 195, 185), np.uint8)
    cv2.circle(img, (round(x), round(y)), r, (30, 90, 220), -1)  # a blue ball on a light wall
    return Frame(img, 0.0, "t")


def test_class_flips_keep_one_track_with_the_majority_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    tracker, book = ByteTrack(), TrackBook(DetectSettings(), tmp_path)
    flips = ["sports ball", "frisbee", "sports ball", "kite", "sports ball", "sports ball", "frisbee",
             "sports ball", "kite", "sports ball", "sports ball", "sports ball"] * 2
    ids: set[int] = set()
    rec = None
    for i, label in enumerate(flips):
        t = i * 0.2  # change keyframes come at up to 5 per second
        x = 40 + 22 * i  # left → right across the frame
        box = [x - 24 + rng.normal(0, 2), 156 + rng.normal(0, 2), x + 24, 204]
        boxes, labels, scores = [box], [label], [0.6]
        if i in (3, 6, 15):  # class-aware NMS kept two labels on the same ball
            boxes.append([box[0] + 2, box[1] + 1, box[2] - 1, box[3]])
            labels.append("sports ball")
            scores.append(0.4)
        dets = Detections(np.array(boxes, np.float32), np.array(scores, np.float32), tuple(labels))
        out = tracker.update(dets, timestamp=t)
        assert out.track_ids is not None
        ids |= set(out.track_ids.tolist())
        frame = _ball_frame(x, 180)
        book.update(t, out, Frame(frame.image, t, "t"))
        rec = next(iter(book.tracks.values()))
    assert len(ids) == 1 and min(ids) >= 1, f"one ball, ids {ids}"
    assert rec is not None and rec.label == "sports ball"
    assert set(rec.label_scores) == {"sports ball", "frisbee", "kite"}
    assert next(iter(rec.label_scores)) == "sports ball"
    obs = track_observation(rec, "t", "test", frame_size=(W, H))
    p = obs.payload
    assert p.direction == "left to right" and p.colour == "blue"  # type: ignore[attr-defined]
    assert p.speed == pytest.approx(110, rel=0.1)  # 22 px per 0.2 s  # type: ignore[attr-defined]
    assert "sports ball" in obs.text and "blue" in obs.text and "left to right" in obs.text


def test_people_are_still_tracked_apart_from_things() -> None:
    tracker = ByteTrack()
    for i in range(5):
        dets = Detections(np.array([[0, 0, 100, 100], [2, 2, 100, 100]], np.float32),
                          np.array([0.8, 0.8], np.float32), ("chair", "person"))
        out = tracker.update(dets, timestamp=i * 0.2)
        assert out.track_ids is not None and len(set(out.track_ids.tolist())) == 2
