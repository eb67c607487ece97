"""ByteTrack over the ``trackers`` package, one tracker per label group with global ids.

ByteTrack itself is class-agnostic. People get a tracker of their own, which keeps a person's
id from jumping to an overlapping chair; every other label shares one tracker, so an object
whose class flips between keyframes (a ball read as sports ball, frisbee, kite) stays one
track with one id. Boxes of one group that cover the same thing (class-aware NMS keeps a
frisbee box on top of a sports-ball box) are associated once, the weaker box taking the
stronger one's id; the track's label is then a vote (see ``presence.TrackRecord``).

Keyframes arrive at uneven times, so every update passes the keyframe's media time and the
tracker's Kalman filter predicts over the real gap; a track survives ``hold_seconds``
without a match (short occlusions).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.detect.boxes import box_iou
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.types import Detections

RECENT_BOXES = 5  # observed boxes per track kept for recovery
OWN_GROUP_LABELS = frozenset({"person"})  # labels tracked apart from all others
DUPLICATE_IOU = 0.7  # boxes of one group overlapping this much are one object


def association_group(label: str) -> str:
    """The tracker a label is associated in: people apart, every other class together."""
    return label if label in OWN_GROUP_LABELS else "thing"


class ByteTrack:
    """Multi-object tracker with stable integer ids (``trackers.ByteTrackTracker``).

    Args:
        settings: detection settings (score threshold, hold time).
        min_iou: IoU between a predicted track box and a detection needed to match.
        recover_iou: IoU between a lost track's last box and a new detection that continues it.
    """

    name = "bytetrack"

    def __init__(self, settings: DetectSettings | None = None, min_iou: float = 0.1,
                 recover_iou: float = 0.3) -> None:
        try:
            import supervision  # noqa: F401  (trackers speaks sv.Detections)
            from trackers import ByteTrackTracker
        except ImportError as exc:
            raise BackendUnavailable("tracking needs the trackers package: pip install 'scenewatch[vision]'") \
                from exc
        self._cls = ByteTrackTracker
        self.settings = settings or DetectSettings()
        self.min_iou = min_iou
        self.recover_iou = recover_iou
        self._by_label: dict[str, Any] = {}
        self._last_obs: dict[int, tuple[str, deque[NDArray[np.float32]]]] = {}
        self._next_id = 1

    def _new_tracker(self) -> Any:
        s = self.settings
        return self._cls(
            # trackers counts the lost buffer in 30 fps frames and converts it to seconds.
            lost_track_buffer=max(1, round(s.hold_seconds * 30)),
            frame_rate=30.0,
            track_activation_threshold=s.score_threshold,
            minimum_consecutive_frames=1,  # presence gating (N of M) is done by TrackBook
            minimum_iou_threshold=self.min_iou,
            # Boxes under score_threshold (down to low_score_threshold) only extend tracks:
            # ByteTrack's second association, which carries tracks through partial occlusion.
            high_conf_det_threshold=s.score_threshold,
        )

    def reset(self) -> None:
        """Forget all tracks; ids keep increasing so they never repeat within a stage."""
        self._by_label.clear()
        self._last_obs.clear()

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        """Assign ids; every label's tracker is stepped so unmatched tracks age."""
        import supervision as sv

        ids = np.full(len(detections), -1, np.int64)
        groups = [association_group(lab) for lab in detections.labels]
        same_as = self._duplicates(detections, groups)
        for label in sorted(set(groups) | set(self._by_label)):
            rows = np.array([i for i, g in enumerate(groups) if g == label and same_as[i] < 0], np.int64)
            tracker = self._by_label.get(label)
            if tracker is None:
                tracker = self._by_label[label] = self._new_tracker()
            if rows.size:
                sv_dets = sv.Detections(xyxy=detections.xyxy[rows].astype(np.float32),
                                        confidence=detections.scores[rows].astype(np.float32),
                                        data={"row": rows})
            else:
                sv_dets = sv.Detections.empty()
            out = tracker.update(sv_dets, timestamp=timestamp)
            if len(out):
                for row, tid in zip(out.data["row"], out.tracker_id, strict=True):
                    ids[int(row)] = int(tid)
                self._name_new_tracks(tracker, label, rows, detections, ids)
        for i in np.flatnonzero(same_as >= 0):
            ids[i] = ids[same_as[i]]
        for i in np.flatnonzero((ids >= 0) & (same_as < 0)):
            tid = int(ids[i])
            if tid not in self._last_obs:
                self._last_obs[tid] = (groups[i], deque(maxlen=RECENT_BOXES))
            self._last_obs[tid][1].append(detections.xyxy[i].copy())
        alive = {int(tl.tracker_id) for tr in self._by_label.values() for tl in tr.tracks}
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

    def _name_new_tracks(self, tracker: Any, label: str, rows: NDArray[np.int64], detections: Detections,
                         ids: NDArray[np.int64]) -> None:
        """Give tracks spawned this step an id at once, or hand them a lost track's id.

        ``trackers`` names a new track only on its second match, which would shift every
        first-seen time by one keyframe. A fast, non-linear move (a jump) can also defeat the
        Kalman prediction; like OC-SORT's observation-centric recovery, a new track that
        overlaps one of the last observed boxes of a lost track of the same label continues it.
        """
        matched_now = {int(v) for v in ids[rows] if v >= 0}
        lost = {tid: np.stack(boxes) for tid, (lab, boxes) in self._last_obs.items()
                if lab == label and tid not in matched_now}
        for tl in tracker.tracks:
            if int(tl.tracker_id) != -1:
                continue
            state = np.asarray(tl.get_state_bbox(), np.float32).reshape(4)
            free = [r for r in rows.tolist() if ids[r] < 0]
            if not free:
                break
            row = min(free, key=lambda r: float(np.abs(detections.xyxy[r] - state).sum()))
            new_id = -1
            if lost:
                cand = list(lost)
                ious = np.array([box_iou(detections.xyxy[row:row + 1], lost[c]).max() for c in cand])
                best = int(np.argmax(ious))
                if ious[best] >= self.recover_iou:
                    new_id = cand[best]
                    del lost[new_id]
                    tracker.tracks = [o for o in tracker.tracks if int(o.tracker_id) != new_id]
            if new_id < 0:
                new_id = self._next_id
                self._next_id += 1
            tl.tracker_id = new_id
            ids[row] = new_id
