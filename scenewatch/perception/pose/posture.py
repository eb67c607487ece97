"""Posture from keypoints (standing / sitting / lying) and the "person fell" rule.

Posture reads the body's geometry, not the box alone: the torso's angle from vertical
(shoulder midpoint → hip midpoint) says upright or lying; for an upright torso, the thighs say
sitting (hip→knee more horizontal than vertical, or knees not below the hips by much) or
standing. Without a confident torso the box's shape decides only the clear cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.pose.models import Pose

Posture = Literal["standing", "sitting", "lying"]
UPRIGHT: frozenset[str] = frozenset({"standing", "sitting"})
LYING_ASPECT = 1.2  # box width / height of a lying body seen from the side


def _mid(pose: Pose, a: str, b: str, min_score: float) -> NDArray[np.float32] | None:
    pa, pb = pose.point(a, min_score), pose.point(b, min_score)
    if pa is not None and pb is not None:
        return ((pa + pb) / 2).astype(np.float32)
    return pa if pa is not None else pb


def _angle_from_vertical(top: NDArray[np.float32], bottom: NDArray[np.float32]) -> float:
    dx, dy = float(bottom[0] - top[0]), float(bottom[1] - top[1])
    return math.degrees(math.atan2(abs(dx), abs(dy) + 1e-6))


def torso_tilt(pose: Pose, min_score: float = 0.25) -> float | None:
    """Angle of the torso (shoulder midpoint → hip midpoint) from vertical, degrees; ``None`` if unseen."""
    shoulders = _mid(pose, "left_shoulder", "right_shoulder", min_score)
    hips = _mid(pose, "left_hip", "right_hip", min_score)
    if shoulders is None or hips is None or np.linalg.norm(hips - shoulders) < 4:
        return None
    return _angle_from_vertical(shoulders, hips)


def classify_posture(pose: Pose, box: NDArray[np.float32] | None, min_score: float = 0.25) -> Posture | None:
    """Standing, sitting or lying; ``None`` when neither the keypoints nor the box say."""
    shoulders = _mid(pose, "left_shoulder", "right_shoulder", min_score)
    hips = _mid(pose, "left_hip", "right_hip", min_score)
    aspect = None
    if box is not None:
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        aspect = w / max(h, 1e-6)
    if shoulders is None or hips is None or np.linalg.norm(hips - shoulders) < 4:
        if aspect is not None and aspect > 1.6:
            return "lying"
        if aspect is not None and aspect < 0.5:
            return "standing"
        return None
    torso = float(np.linalg.norm(hips - shoulders))
    tilt = _angle_from_vertical(shoulders, hips)
    if tilt > 55:
        # keypoints of a body at an odd angle are noisy: a lying body also makes a wide box
        return "lying" if aspect is None or aspect >= LYING_ASPECT else None
    if tilt > 35:  # leaning: only a clearly wide box tells lying from bending
        return "lying" if aspect is not None and aspect > 1.6 else None
    knees = _mid(pose, "left_knee", "right_knee", min_score)
    if knees is None:
        return "standing" if aspect is not None and aspect < 0.45 else None
    thigh_tilt = _angle_from_vertical(hips, knees)
    knee_drop = float(knees[1] - hips[1]) / torso
    if thigh_tilt > 50 or knee_drop < 0.45:
        return "sitting"
    return "standing"


@dataclass(frozen=True)
class Fall:
    """A person went from upright to lying quickly and stayed down.

    Attributes:
        track_id: the person track.
        upright_at: last time the person was seen upright.
        down_at: first time the person was seen lying.
        confirmed_at: time the person had been down for ``down_seconds``.
        box: the person's box when lying.
    """

    track_id: int
    upright_at: float
    down_at: float
    confirmed_at: float
    box: tuple[float, float, float, float]


@dataclass
class FallWatch:
    """Per-track state machine: upright → lying within ``fall_seconds``, lying for ``down_seconds``.

    "Upright" is a torso within ``upright_tilt`` degrees of vertical (or, with no torso seen, an
    upright posture), so the time a person spends leaning while lying down slowly counts
    against ``fall_seconds``. "Down" is a run of at least two lying readings with nothing else
    between them (keypoints of a body at an odd angle are noisy). One fall is reported per going
    down; the person must be seen upright again to re-arm.
    """

    fall_seconds: float = 1.5
    down_seconds: float = 2.0
    upright_tilt: float = 25.0
    _upright_at: dict[int, float] = field(default_factory=dict)
    _down_at: dict[int, float] = field(default_factory=dict)
    _reported: set[int] = field(default_factory=set)
    _run: dict[int, int] = field(default_factory=dict)

    def update(self, track_id: int, t: float, posture: str | None,
               box: tuple[float, float, float, float], tilt: float | None = None) -> Fall | None:
        """Feed one posture reading (and the torso tilt); returns a :class:`Fall` the moment one is confirmed."""
        upright = tilt < self.upright_tilt if tilt is not None else posture in UPRIGHT
        if upright:
            self._upright_at[track_id] = t
            self._down_at.pop(track_id, None)
            self._run.pop(track_id, None)
            self._reported.discard(track_id)
            return None
        if posture != "lying":
            # leaning or unseen: a lying run must start again (one noisy reading is not lying)
            self._down_at.pop(track_id, None)
            self._run.pop(track_id, None)
            return None
        up = self._upright_at.get(track_id)
        down = self._down_at.setdefault(track_id, t)
        self._run[track_id] = self._run.get(track_id, 0) + 1
        if up is None or down - up > self.fall_seconds or track_id in self._reported:
            return None
        if t - down < self.down_seconds or self._run[track_id] < 2:
            return None
        self._reported.add(track_id)
        return Fall(track_id, up, down, t, box)

    def pending(self, track_id: int) -> bool:
        """The track went down quickly and is not confirmed yet (it may still turn out a fall)."""
        up, down = self._upright_at.get(track_id), self._down_at.get(track_id)
        return (up is not None and down is not None and down - up <= self.fall_seconds
                and track_id not in self._reported)

    def forget(self, track_id: int) -> None:
        """Drop a closed track's state."""
        self._upright_at.pop(track_id, None)
        self._down_at.pop(track_id, None)
        self._reported.discard(track_id)
        self._run.pop(track_id, None)
