"""Where to read on a keyframe: the whole frame, or a few regions of interest.

* the whole frame on the first keyframe and on a scene cut (``full_frame_on_scene_change``),
  or always (``full_frame``);
* otherwise: regions that changed since the last keyframe (grown to take in any text line they
  cut through), boxes from the objects stage, user zones, and known text due for a re-check.

An unchanged detection or zone is re-read at most every ``reread_seconds``, and then only if
its pixels changed since it was last read (compared on a light-normalised 16×16 grid of block
means, so sensor noise and slow light drift do not count; a read is forced after
``STALE_FACTOR`` re-read periods); known text lines are re-read when due regardless: skipping
them while they looked the same left a moving label's last, partial reading (") SENDER") as a
row of its own on the busy benchmark clip. Static text is read once, not on every keyframe.
When the regions would cover most of the frame, the frame is read whole (one detector pass is
cheaper than many overlapping ones).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.looks import region_look, same_look
from scenewatch.perception.ocr.merge import covered
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import Detections, Keyframe

FULL_FRAME_FRACTION = 0.6  # regions covering more than this of the frame: read it whole
STALE_FACTOR = 6  # an unchanged region is read again after this many re-read periods anyway


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
        self._looks: list[tuple[float, NDArray[np.float32], NDArray[np.float32] | None]] = []  # (time, box, look) read
        self.skipped = 0  # stale regions not read again because their pixels had not changed

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
        self._looks = [(rt, b, look) for rt, b, look in self._looks if t - rt < STALE_FACTOR * s.reread_seconds]
        if s.full_frame or (s.full_frame_on_scene_change and keyframe.reason in ("first", "scene")):
            self._recent = [(t, np.array([0, 0, w, h], np.float32))]
            self._looks = []
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
        lookable = len(steady)  # known text lines are always re-read when due: their readings grow
        steady.extend(np.asarray(text_boxes, np.float32).reshape(-1, 4))
        recent = np.asarray([b for _, b in self._recent], np.float32).reshape(-1, 4)
        for i, box in enumerate(steady):
            if _intersects(box, changed):
                out.append(box)
            elif not covered(box, recent, 0.9):
                if i < lookable and self._unchanged(keyframe.frame.image, box):
                    self._recent.append((t, box))  # looked at, same as when read: no need to read it
                    recent = np.concatenate([recent, box[None]])
                    self.skipped += 1
                else:
                    out.append(box)
        regions = np.asarray(out, np.float32).reshape(-1, 4)
        if len(regions):
            area = float(np.sum((regions[:, 2] - regions[:, 0]) * (regions[:, 3] - regions[:, 1])))
            if area > FULL_FRAME_FRACTION * w * h:
                self._recent = [(t, np.array([0, 0, w, h], np.float32))]
                self._looks = []
                return None
        self._recent.extend((t, b) for b in regions)
        self._looks.extend((t, b, region_look(keyframe.frame.image, b)) for b in regions)
        return regions

    def _unchanged(self, image: NDArray[np.uint8], box: NDArray[np.float32]) -> bool:
        """Whether ``box`` was read lately at (nearly) this place and its pixels still look the same."""
        for _, old_box, look in reversed(self._looks):
            if covered(box, old_box[None], 0.9) and covered(old_box, box[None], 0.9):
                return same_look(look, region_look(image, old_box))
        return False
