"""Direction, speed and size of an object from its box samples over time.

Direction is read from the net displacement of the box centre between the start and the end
of the track (medians of the first and last quarter of the samples, so one jittery box does
not decide it); towards/away from the change of the box's scale when the centre barely moves
across the frame. Speed is the net centre displacement per second, in pixels (between the same two medians).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MIN_SHIFT = 0.12  # net centre shift, as a share of the frame side, that counts as moving
STILL_SHIFT = 0.03  # under this (and no scale change) the object stayed in place
SCALE_CHANGE = 1.35  # linear scale ratio that counts as towards/away
EDGE_PX = 2.0  # a box edge this close to the frame border is cut by it

DIRECTIONS = ("left to right", "right to left", "up", "down", "towards the camera", "away from the camera", "still")


@dataclass(frozen=True, slots=True)
class Motion:
    """How an object moved over its track.

    Attributes:
        direction: one of :data:`DIRECTIONS`, or ``None`` when it is not clear.
        speed: net centre displacement per second, pixels/s.
        duration: seconds between the first and last sample.
    """

    direction: str | None
    speed: float
    duration: float


def box_size(box: Sequence[float], width: int, height: int) -> tuple[float, float]:
    """``(area in px, share of the frame)`` of an ``x1, y1, x2, y2`` box."""
    area = max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))
    return round(area, 1), round(area / max(1.0, float(width * height)), 5)


def _shift(lo: NDArray[np.float64], hi: NDArray[np.float64], size: int, q: int) -> float:
    """Net shift along one axis: of the box centre, or of its free edge while the box is cut by the frame border.

    An object leaving (or entering) the frame has a box clipped at the border, whose centre moves
    at half speed and then stops; its other edge still moves with the object.
    """
    def moved(v: NDArray[np.float64]) -> float:
        return float(np.median(v[-q:]) - np.median(v[:q]))

    ends = np.r_[0:q, len(lo) - q:len(lo)]
    cut_lo = bool((lo[ends] <= EDGE_PX).any())
    cut_hi = bool((hi[ends] >= size - EDGE_PX).any())
    if cut_hi and not cut_lo:
        return moved(lo)
    if cut_lo and not cut_hi:
        return moved(hi)
    return moved((lo + hi) / 2)


def motion_of(samples: Sequence[Sequence[float]], width: int, height: int) -> Motion | None:
    """Motion from ``[t, x1, y1, x2, y2, …]`` samples in time order.

    Returns:
        ``None`` with fewer than two samples or no elapsed time.
    """
    if len(samples) < 2:
        return None
    arr = np.asarray([s[:5] for s in samples], np.float64)
    duration = float(arr[-1, 0] - arr[0, 0])
    if duration <= 0:
        return None
    q = max(1, len(arr) // 4)
    scales = np.sqrt(np.maximum(arr[:, 3] - arr[:, 1], 1) * np.maximum(arr[:, 4] - arr[:, 2], 1))
    dx = _shift(arr[:, 1], arr[:, 3], width, q)
    dy = _shift(arr[:, 2], arr[:, 4], height, q)
    scale = float(np.median(scales[-q:]) / max(np.median(scales[:q]), 1e-6))
    span = float(np.median(arr[-q:, 0]) - np.median(arr[:q, 0])) or duration
    speed = round(float(np.hypot(dx, dy)) / span, 1)
    rx, ry = dx / max(width, 1), dy / max(height, 1)
    direction: str | None = None
    if max(abs(rx), abs(ry)) >= MIN_SHIFT:
        if abs(rx) >= abs(ry):
            direction = "left to right" if rx > 0 else "right to left"
        else:
            direction = "down" if ry > 0 else "up"
    elif scale >= SCALE_CHANGE:
        direction = "towards the camera"
    elif scale <= 1 / SCALE_CHANGE:
        direction = "away from the camera"
    elif max(abs(rx), abs(ry)) < STILL_SHIFT:
        direction = "still"
    return Motion(direction, speed, round(duration, 3))


def describe(label: str, extras: Sequence[str] = (), colour: str | None = None,
             direction: str | None = None) -> str:
    """Searchable row text, e.g. ``"sports ball (blue, moving left to right)"``."""
    parts = [e for e in extras if e and e != label]
    if colour:
        parts.append(colour)
    if direction and direction != "still":
        parts.append(f"moving {direction}")
    elif direction == "still":
        parts.append("not moving")
    return f"{label} ({', '.join(parts)})" if parts else label
