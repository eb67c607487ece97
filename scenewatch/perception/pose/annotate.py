"""Posture on person tracks, and "person fell" rows: the objects stage hands its open tracks here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.payloads import MotionPayload
from scenewatch.perception.pose.models import PoseEstimator
from scenewatch.perception.pose.posture import Fall, FallWatch, classify_posture, torso_tilt
from scenewatch.perception.pose.settings import PoseSettings
from scenewatch.types import Observation

log = logging.getLogger(__name__)

FELL_LABEL = "person fell"


class PersonTrack(Protocol):
    """What the annotator reads and writes on a track record."""

    track_id: int
    label: str
    boxes: list[tuple[float, list[float], float]]
    posture: str | None


class TrackPoses:
    """Sets ``posture`` on person tracks seen on a keyframe and reports falls.

    Args:
        settings: pose settings.
        estimator: an already built estimator (tests); built on first use otherwise.
    """

    def __init__(self, settings: PoseSettings, estimator: PoseEstimator | None = None) -> None:
        self.settings = settings
        self.estimator = estimator or PoseEstimator()
        self.falls = FallWatch(settings.fall_seconds, settings.down_seconds, settings.upright_tilt)
        self._last_try: dict[int, float] = {}
        self._lost: dict[int, list[float]] = {}  # last box of tracks that went down quickly, unconfirmed
        self.runs = 0

    def annotate(self, t: float, image: NDArray[np.uint8], tracks: Iterable[PersonTrack]) -> list[Fall]:
        """Estimate posture of the person tracks seen at ``t``; returns falls confirmed now.

        Detectors often lose a person lying on the floor: a track that went down quickly and is
        not seen now (held, or already closed) is still looked at in its last box until the fall
        is confirmed or the pose there stops being a lying body.
        """
        out: list[Fall] = []
        seen: set[int] = set()
        for rec in tracks:
            if rec.label not in self.settings.person_labels or not rec.boxes or rec.boxes[-1][0] != t:
                continue
            seen.add(rec.track_id)
            if t - self._last_try.get(rec.track_id, float("-inf")) < self.settings.interval_seconds:
                continue
            self._last_try[rec.track_id] = t
            self.runs += 1
            box = np.asarray(rec.boxes[-1][1], np.float32)
            pose = self.estimator.estimate(image, box)
            posture = classify_posture(pose, box, self.settings.min_keypoint_score)
            if posture is not None:
                rec.posture = posture
            x1, y1, x2, y2 = (float(v) for v in box)
            tilt = torso_tilt(pose, self.settings.min_keypoint_score)
            fall = self.falls.update(rec.track_id, t, posture, (x1, y1, x2, y2), tilt)
            if fall is not None:
                log.info("track %d fell at %.2fs", rec.track_id, fall.down_at)
                out.append(fall)
            if self.falls.pending(rec.track_id):
                self._lost[rec.track_id] = [x1, y1, x2, y2]
            else:
                self._lost.pop(rec.track_id, None)
        for tid, last_box in list(self._lost.items()):
            if tid not in seen:
                out += self._look_again(t, image, tid, np.asarray(last_box, np.float32))
        return out

    def _look_again(self, t: float, image: NDArray[np.uint8], tid: int, box: NDArray[np.float32]) -> list[Fall]:
        """Read the pose in a lost track's last box: only a confident lying body continues its fall."""
        pose = self.estimator.estimate(image, box)
        tilt = torso_tilt(pose, self.settings.min_keypoint_score)
        lying = tilt is not None and classify_posture(pose, box, self.settings.min_keypoint_score) == "lying"
        x1, y1, x2, y2 = (float(v) for v in box)
        fall = self.falls.update(tid, t, "lying" if lying else None, (x1, y1, x2, y2), tilt if lying else None)
        if fall is not None or not self.falls.pending(tid):
            self._lost.pop(tid, None)
            if tid not in self._last_try:  # its track is closed: nothing more to follow
                self.falls.forget(tid)
        return [fall] if fall is not None else []

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the state of closed tracks (one that may be a fall is still watched in its last box)."""
        for tid in track_ids:
            self._last_try.pop(tid, None)
            if tid not in self._lost:
                self.falls.forget(tid)


def fall_observation(fall: Fall, source_id: str, wall_offset: float | None = None) -> Observation:
    """The timeline row of a fall: a ``motion`` row labelled "person fell" on the person's track."""
    return Observation(
        kind="motion", source_id=source_id, start=fall.upright_at, end=fall.confirmed_at, label=FELL_LABEL,
        text=f"{FELL_LABEL}: upright at {fall.upright_at:.1f}s, lying from {fall.down_at:.1f}s and still down "
             f"at {fall.confirmed_at:.1f}s",
        confidence=1.0, box=fall.box, track_id=fall.track_id, payload=MotionPayload(keyframes=1),
        wall_start=None if wall_offset is None else wall_offset + fall.upright_at,
    )
