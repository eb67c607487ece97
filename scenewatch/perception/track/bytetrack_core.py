"""ByteTrack association for one group of boxes: Kalman-predicted tracks matched to detections.

ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
ECCV 2022) keeps the low-score boxes a detector emits instead of dropping them, and uses them
only to extend tracks that already exist. Each update:

1. every live track's :class:`~scenewatch.perception.track.kalman.BoxKalman` predicts over the
   real media time since the previous keyframe; tracks unmatched for longer than
   ``hold_seconds`` are dropped before matching, so a stale track never revives;
2. boxes scoring at least ``high_score`` are matched to all live tracks by IoU of the predicted
   box (optimal assignment, :func:`~scenewatch.perception.track.assignment.match`, pairs under
   ``min_iou`` rejected);
3. tracks left over are matched the same way to the low-score boxes — a partly hidden object
   whose score dips keeps its track; unmatched low-score boxes are discarded;
4. each unmatched high-score box starts a track, returned to the caller to be named (ids are
   global across groups and a new track may continue a lost one, see
   :class:`~scenewatch.perception.track.bytetrack.ByteTrack`).

Without a timestamp each update counts as one reference step (1/30 s) and a track lives
``round(hold_seconds × 30)`` unmatched updates. The behaviour (and its numbers: the noise, the
gap handling, the matching order and tie-breaking) follows ``trackers`` 2.6.1 (Roboflow,
Apache-2.0) as scenewatch configured it, so ids do not change with this implementation; it is
written here to keep ``supervision``/``scipy`` (about 100 MB resident) out of the process.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.track.assignment import match
from scenewatch.perception.track.kalman import REFERENCE_RATE, BoxKalman

logger = logging.getLogger(__name__)


def association_iou(tracks: NDArray[np.floating[Any]], boxes: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """IoU of ``N×4`` predicted track boxes × ``M×4`` boxes, computed in float64, returned as float32."""
    a = np.asarray(tracks, np.float64).reshape(-1, 4)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = np.zeros((len(a), len(b)), np.float32)
    if not out.size:
        return out
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0.0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0.0, None)
    inter = w * h
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None] + ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    union = union - inter
    np.divide(inter, union, out=out, where=union > 0)
    return out


@dataclass(eq=False)
class Tracklet:
    """One track: its filter, its id (``-1`` until the caller names it) and how long it went unmatched."""

    kalman: BoxKalman
    track_id: int = -1
    misses: int = 0  # updates since the last match
    unseen_seconds: float = 0.0  # media time since the last match (0 without timestamps)

    @property
    def box(self) -> NDArray[np.float64]:
        """The predicted (or last corrected) ``[x1, y1, x2, y2]``."""
        return self.kalman.box


@dataclass
class Step:
    """Timing of one update: how far to predict, and the media seconds that passed (``None`` untimed)."""

    steps: float
    seconds: float | None
    skip: bool = False


@dataclass
class ByteTrackCore:
    """Two-stage ByteTrack association of one group's boxes.

    Args:
        high_score: boxes at or above this score are matched first and may start tracks.
        min_iou: least IoU between a predicted track box and a box for them to match.
        hold_seconds: a track unmatched for longer than this (media time) is dropped.
    """

    high_score: float
    min_iou: float
    hold_seconds: float
    tracks: list[Tracklet] = field(default_factory=list, init=False)
    _last_time: float | None = field(default=None, init=False, repr=False)

    @property
    def hold_updates(self) -> int:
        """Unmatched updates a track survives when updates carry no timestamp."""
        return max(1, round(self.hold_seconds * REFERENCE_RATE))

    def _step(self, timestamp: float | None) -> Step:
        if timestamp is None:
            self._last_time = None
            return Step(1.0, None)
        if not math.isfinite(timestamp):
            logger.warning("tracker: timestamp %r is not finite; update skipped", timestamp)
            return Step(0.0, None, skip=True)
        last = self._last_time
        if last is None:  # first timestamp: one nominal step, nothing to measure a gap from
            self._last_time = timestamp
            seconds = 1.0 / REFERENCE_RATE
            return Step(seconds * REFERENCE_RATE, seconds)
        if timestamp < last:
            logger.warning("tracker: timestamp %s is before the previous %s; update skipped", timestamp, last)
            return Step(0.0, None, skip=True)
        if timestamp == last:
            return Step(0.0, 0.0)  # same instant again: match, but do not move or age the tracks
        self._last_time = timestamp
        seconds = timestamp - last
        return Step(seconds * REFERENCE_RATE, seconds)

    def _predict(self, step: Step) -> None:
        if step.steps <= 0.0:
            return
        for t in self.tracks:
            t.kalman.predict(step.steps)
            t.misses += 1
            t.unseen_seconds = t.unseen_seconds + step.seconds if step.seconds is not None else 0.0

    def _matched(self, track: Tracklet, box: NDArray[np.float32]) -> None:
        track.kalman.update(box)
        track.misses = 0
        track.unseen_seconds = 0.0

    def update(self, boxes: NDArray[np.float32], scores: NDArray[np.float32],
               timestamp: float | None = None) -> tuple[NDArray[np.int64], list[tuple[int, Tracklet]]]:
        """Match ``N×4`` boxes to tracks.

        Returns:
            The matched track's id per box (``-1`` for unmatched boxes and for boxes that started a
            track), and the tracks started this update with the row that started each; name them by
            setting ``track_id``.
        """
        ids = np.full(len(boxes), -1, np.int64)
        step = self._step(timestamp)
        if step.skip:
            return ids, []
        self._predict(step)
        if step.seconds is not None:
            self.tracks = [t for t in self.tracks if t.unseen_seconds <= self.hold_seconds]
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero(scores < self.high_score)
        predicted = np.array([t.box for t in self.tracks]).reshape(-1, 4)

        pairs, left, new = match(association_iou(predicted, boxes[high]), self.min_iou)
        for ti, col in pairs:
            self._matched(self.tracks[ti], boxes[high[col]])
            ids[high[col]] = self.tracks[ti].track_id
        pairs, _, _ = match(association_iou(predicted[left], boxes[low]), self.min_iou)
        for li, col in pairs:
            track = self.tracks[left[li]]
            self._matched(track, boxes[low[col]])
            ids[low[col]] = track.track_id

        # The start test is in double precision: a float32 score just under the threshold that
        # rounds onto it in float32 is matched as a high box but starts no track.
        spawned = [(int(high[col]), Tracklet(BoxKalman(boxes[high[col]]))) for col in new
                   if float(scores[high[col]]) >= self.high_score]
        self.tracks.extend(t for _, t in spawned)
        if step.seconds is None:
            self.tracks = [t for t in self.tracks if t.misses <= self.hold_updates]
        return ids, spawned
