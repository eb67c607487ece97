"""ByteTrack, one tracker per label group with global ids.

ByteTrack itself is class-agnostic. People get a tracker of their own, which keeps a person's
id from jumping to an overlapping chair; every other label shares one tracker, so an object
whose class flips between keyframes (a ball read as sports ball, frisbee, kite) stays one
track with one id. Boxes of one group that cover the same thing (class-aware NMS keeps a
frisbee box on top of a sports-ball box) are associated once, the weaker box taking the
stronger one's id; the track's label is then a vote (see ``presence.TrackRecord``).

Keyframes arrive at uneven times, so every update passes the keyframe's media time and the
tracker's Kalman filter predicts over the real gap; a track survives ``hold_seconds``
without a match (short occlusions). The association itself is
:mod:`scenewatch.perception.track.bytetrack_core` (numpy only).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.detect.boxes import box_iou
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.perception.track.bytetrack_core import ByteTrackCore, Tracklet
from scenewatch.types import Detections

RECENT_BOXES = 5  # observed boxes per track kept for recovery
OWN_GROUP_LABELS = frozenset({"person"})  # labels tracked apart from all others
DUPLICATE_IOU = 0.7  # boxes of one group overlapping this much are one object


def association_group(label: str) -> str:
    """The tracker a label is associated in: people apart, every other class together."""
    return label if label in OWN_GROUP_LABELS else "thing"


class ByteTrack:
    """Multi-object tracker with stable integer ids (ByteTrack, see :mod:`.bytetrack_core`).

    Args:
        settings: detection settings (score threshold, hold time).
        min_iou: IoU between a predicted track box and a detection needed to match.
        recover_iou: IoU between a lost track's last box and a new detection that continues it.
    """

    name = "bytetrack"

    def __init__(self, settings: DetectSettings | None = None, min_iou: float = 0.1,
                 recover_iou: float = 0.3) -> None:
        self.settings = settings or DetectSettings()
        self.min_iou = min_iou
        self.recover_iou = recover_iou
        self._by_label: dict[str, ByteTrackCore] = {}
        self._last_obs: dict[int, tuple[str, deque[NDArray[np.float32]]]] = {}
        self._next_id = 1

    def _new_tracker(self) -> ByteTrackCore:
        # Boxes under score_threshold (down to low_score_threshold) only extend tracks:
        # ByteTrack's second association, which carries tracks through partial occlusion.
        s = self.settings
        return ByteTrackCore(high_score=s.score_threshold, min_iou=self.min_iou, hold_seconds=s.hold_seconds)

    def reset(self) -> None:
        """Forget all tracks; ids keep increasing so they never repeat within a stage."""
        self._by_label.clear()
        self._last_obs.clear()

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        """Assign ids; every label's tracker is stepped so unmatched tracks age."""
        ids = np.full(len(detections), -1, np.int64)
        groups = [association_group(lab) for lab in detections.labels]
        same_as = self._duplicates(detections, groups)
        xyxy = detections.xyxy.astype(np.float32)
        scores = detections.scores.astype(np.float32)
        for label in sorted(set(groups) | set(self._by_label)):
            rows = np.array([i for i, g in enumerate(groups) if g == label and same_as[i] < 0], np.int64)
            tracker = self._by_label.get(label)
            if tracker is None:
                tracker = self._by_label[label] = self._new_tracker()
            found, spawned = tracker.update(xyxy[rows].reshape(-1, 4), scores[rows], timestamp)
            ids[rows] = found
            self._name_new_tracks(tracker, label, [(int(rows[r]), t) for r, t in spawned], detections, ids)
        for i in np.flatnonzero(same_as >= 0):
            ids[i] = ids[same_as[i]]
        for i in np.flatnonzero((ids >= 0) & (same_as < 0)):
            tid = int(ids[i])
            if tid not in self._last_obs:
                self._last_obs[tid] = (groups[i], deque(maxlen=RECENT_BOXES))
            self._last_obs[tid][1].append(detections.xyxy[i].copy())
        alive = {t.track_id for tr in self._by_label.values() for t in tr.tracks}
        for tid in [k for k in self._last_obs if k not in alive]:
            del self._last_obs[tid]
        return Detections(detections.xyxy, detections.scores, detections.labels, ids, detections.masks,
                          detections.concepts)

    @staticmethod
    def _duplicates(detections: Detections, groups: list[str]) -> NDArray[np.int64]:
        """For each box, the row of a stronger box of its group covering the same thing, else ``-1``."""
        out = np.full(len(detections), -1, np.int64)
        if len(detections) < 2:
            return out
        iou = box_iou(detections.xyxy, detections.xyxy)
        for i in np.argsort(-detections.scores, kind="stable").tolist():
            if out[i] >= 0:
                continue
            for j in range(len(detections)):
                same_thing = groups[j] == groups[i] and iou[i, j] >= DUPLICATE_IOU
                other_label = detections.labels[j] != detections.labels[i]
                weaker = detections.scores[j] <= detections.scores[i]
                if j != i and out[j] < 0 and same_thing and other_label and weaker:
                    out[j] = i
        return out

    def _name_new_tracks(self, tracker: ByteTrackCore, label: str, spawned: list[tuple[int, Tracklet]],
                         detections: Detections, ids: NDArray[np.int64]) -> None:
        """Give tracks spawned this step an id at once, or hand them a lost track's id.

        A track gets its id on the keyframe it is first seen, so first-seen times are exact. A
        fast, non-linear move (a jump) can also defeat the Kalman prediction; like OC-SORT's
        observation-centric recovery, a new track that overlaps one of the last observed boxes of
        a lost track of the same label continues it.
        """
        if not spawned:
            return
        matched_now = {int(v) for v in ids if v >= 0}
        lost = {tid: np.stack(boxes) for tid, (lab, boxes) in self._last_obs.items()
                if lab == label and tid not in matched_now}
        for row, track in spawned:
            new_id = -1
            if lost:
                cand = list(lost)
                ious = np.array([box_iou(detections.xyxy[row:row + 1], lost[c]).max() for c in cand])
                best = int(np.argmax(ious))
                if ious[best] >= self.recover_iou:
                    new_id = cand[best]
                    del lost[new_id]
                    tracker.tracks = [o for o in tracker.tracks if o.track_id != new_id]
            if new_id < 0:
                new_id = self._next_id
                self._next_id += 1
            track.track_id = new_id
            ids[row] = new_id
