"""Where to read on a keyframe: the whole frame, or a few regions of interest.

* the whole frame on the first keyframe and on a scene cut (``full_frame_on_scene_change``),
  or always (``full_frame``);
* otherwise: regions that changed since the last keyframe (grown to take in any text line they
  cut through), boxes from the objects stage, user zones, and known text due for a re-check.

An unchanged detection or zone is re-read at most every ``reread_seconds``: static text is
read once, not on every keyframe. When the regions would cover most of the frame, the frame
is read whole (one detector pass is cheaper than many overlapping ones).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.ocr.merge import covered
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import Detections, Keyframe

FULL_FRAME_FRACTION = 0.6  # regions covering more than this of the frame: read it whole


def _intersects(box: NDArray[np.float32], others: NDArray[np.float32]) -> bool:
    if not len(others):
        return False
    return bool(np.any((others[:, 0] < box[2]) & (box[0] < others[:, 2])
                       & (others[:, 1] < box[3]) & (box[1] < others[:, 3])))


class RegionPlanner:
    """Chooses the regions to read on each keyframe and remembers what was read when.

    Args:
        settings: OCR settings (zones, rules, re-read interval).
    """

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self._recent: list[tuple[float, NDArray[np.float32]]] = []  # (time, box) read lately

    def plan(self, keyframe: Keyframe, detections: Detections | None,
             text_boxes: NDArray[np.float32]) -> NDArray[np.float32] | None:
        """Regions to read (``K×4``, possibly empty), or ``None`` for the whole frame.

        Args:
            keyframe: the keyframe (its reason and changed boxes are used).
            detections: boxes from the objects stage on this keyframe, if any.
            text_boxes: ``K×4`` boxes of text lines currently open (re-checked when stale).
        """
        s = self.settings
        t = keyframe.frame.pts
        w, h = keyframe.frame.width, keyframe.frame.height
        self._recent = [(rt, b) for rt, b in self._recent if t - rt < s.reread_seconds]
        if s.full_frame or (s.full_frame_on_scene_change and keyframe.reason in ("first", "scene")):
            self._recent = [(t, np.array([0, 0, w, h], np.float32))]
            return None
        changed = keyframe.changed_boxes.astype(np.float32) if s.read_changed else np.zeros((0, 4), np.float32)
        out: list[NDArray[np.float32]] = []
        for box in changed:  # take in whole text lines the change cuts through
            grown = box.copy()
            for tb in text_boxes:
                if _intersects(tb, box[None]):
                    grown[:2] = np.minimum(grown[:2], tb[:2])
                    grown[2:] = np.maximum(grown[2:], tb[2:])
            out.append(grown)
        steady: list[NDArray[np.float32]] = []
        if s.read_detections and detections is not None:
            steady.extend(detections.xyxy.astype(np.float32))
        steady.extend(np.asarray(z.box, np.float32) for z in s.zones)
        steady.extend(np.asarray(text_boxes, np.float32).reshape(-1, 4))
        recent = np.asarray([b for _, b in self._recent], np.float32).reshape(-1, 4)
        for box in steady:
            if _intersects(box, changed) or not covered(box, recent, 0.9):
                out.append(box)
        regions = np.asarray(out, np.float32).reshape(-1, 4)
        if len(regions):
            area = float(np.sum((regions[:, 2] - regions[:, 0]) * (regions[:, 3] - regions[:, 1])))
            if area > FULL_FRAME_FRACTION * w * h:
                self._recent = [(t, np.array([0, 0, w, h], np.float32))]
                return None
        self._recent.extend((t, b) for b in regions)
        return regions
