"""The detect → order → crop → classify → recognise pipeline every PP-OCR reader shares.

A backend supplies three engine calls (:meth:`DetRecReader._detect`, ``_classify``,
``_recognise``); this class owns what makes reading fast and bounded:

* regions of interest are cut at native scale (the detector downscales only above
  ``det_limit_side_len``); crops whose short side is under ``upscale_below_px`` are enlarged,
  at most ``max_upscale`` times, so small text reaches the detector at a readable height;
* at most ``max_regions`` regions and ``max_lines`` lines per image are recognised (the
  largest first), so a frame full of text costs a bounded amount of work;
* lines come back in reading order (columns first, see :mod:`.layout`);
* a page with lines classified upside down is read turned 180° as well, and the way up in which
  fewer lines needed turning is kept, so a turned page's lines come in reading order too (one
  extra pass, only for such pages).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.ocr.images import as_rgb, quad_crop
from scenewatch.perception.ocr.layout import reading_order
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import Frame, TextRegion

log = logging.getLogger(__name__)

MIN_SIDE = 8  # regions or images smaller than this hold no readable line
_MIN_PAGE_LINES = 2  # a page is checked for a 180° turn from this many lines


def clip_regions(regions: NDArray[np.float32], width: int, height: int, pad: float,
                 min_px: int) -> NDArray[np.int32]:
    """Pad, clip to the image and drop tiny regions; returns ``K×4`` int xyxy."""
    r = np.asarray(regions, np.float32).reshape(-1, 4)
    if not len(r):
        return np.zeros((0, 4), np.int32)
    w, h = r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]
    px = w * pad + 2
    py = h * pad + 2
    out = np.stack([r[:, 0] - px, r[:, 1] - py, r[:, 2] + px, r[:, 3] + py], axis=1)
    out = np.round(out)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    keep = ((out[:, 2] - out[:, 0]) >= min_px) & ((out[:, 3] - out[:, 1]) >= min_px)
    return out[keep].astype(np.int32)


def merge_overlapping(boxes: NDArray[np.int32]) -> NDArray[np.int32]:
    """Union boxes that overlap, until none do (so no pixel is read twice)."""
    merged = [b.copy() for b in boxes]
    changed = True
    while changed:
        changed = False
        out: list[NDArray[np.int32]] = []
        for b in merged:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:2] = np.minimum(o[:2], b[:2])
                    o[2:] = np.maximum(o[2:], b[2:])
                    changed = True
                    break
            else:
                out.append(b)
        merged = out
    return np.asarray(merged, np.int32).reshape(-1, 4)


def _confidence_mass(lines: list[tuple[NDArray[np.float32], str, float]]) -> float:
    """Characters read, weighted by confidence: which of two readings of a page holds more text."""
    return sum(score * len(text.strip()) for _, text, score in lines)


def quads_to_boxes(quads: NDArray[np.float32]) -> NDArray[np.float32]:
    """Axis-aligned xyxy boxes around ``N×4×2`` quads."""
    if not len(quads):
        return np.zeros((0, 4), np.float32)
    return np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1).astype(np.float32)


class DetRecReader:
    """Base of the PP-OCR readers; subclasses provide the engine calls.

    Args:
        settings: OCR settings (limits, scaling, score threshold).
    """

    language: str | None = None

    def __init__(self, settings: OcrSettings | None = None) -> None:
        self.settings = settings or OcrSettings()

    # -- engine calls, supplied by each backend ------------------------------------------
    def _detect(self, bgr: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Text line quads ``N×4×2`` (pixels of ``bgr``), any order."""
        raise NotImplementedError

    def _classify(self, crops: list[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
        """Turn upside-down line crops (BGR) the right way up."""
        return crops

    def _recognise(self, crops: list[NDArray[np.uint8]]) -> list[tuple[str, float]]:
        """``(text, score)`` for each BGR line crop."""
        raise NotImplementedError

    # -- shared pipeline ----------------------------------------------------------------
    def read(self, frame_or_image: Frame | NDArray[Any],
             regions: NDArray[np.float32] | None = None) -> list[TextRegion]:
        """Read text lines in the whole image or inside ``regions`` (see :class:`TextReader`)."""
        rgb = as_rgb(frame_or_image)
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return []
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        s = self.settings
        if regions is None:
            boxes = np.array([[0, 0, w, h]], np.int32)
        else:
            boxes = merge_overlapping(clip_regions(regions, w, h, s.region_padding, s.min_region_px))
            if len(boxes) > s.max_regions:
                area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                log.info("%d regions to read; keeping the %d largest", len(boxes), s.max_regions)
                boxes = boxes[np.argsort(-area, kind="stable")[: s.max_regions]]
        out: list[TextRegion] = []
        for x1, y1, x2, y2 in boxes:
            out.extend(self._read_crop(bgr[y1:y2, x1:x2], float(x1), float(y1)))
        return out

    def _read_crop(self, bgr: NDArray[np.uint8], ox: float, oy: float) -> list[TextRegion]:
        s = self.settings
        h, w = bgr.shape[:2]
        scale = 1.0
        if s.upscale_below_px and min(h, w) < s.upscale_below_px:
            scale = min(s.max_upscale, s.upscale_below_px / max(min(h, w), 1))
        if scale > 1.0:
            import cv2

            bgr = np.asarray(cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC),
                             np.uint8)
        lines, flipped = self._read_lines(bgr)
        if len(lines) >= _MIN_PAGE_LINES and flipped:
            # Some lines were upside down: the page may be turned 180°. Read it turned back too and keep
            # the way up in which fewer lines needed turning (then: more confidently read text), quads
            # mapped back onto the image as given. Upright pages (no line turned) cost nothing more.
            bh, bw = bgr.shape[:2]
            turned, flipped_back = self._read_lines(np.ascontiguousarray(bgr[::-1, ::-1]))
            if (flipped_back, -_confidence_mass(turned)) < (flipped, -_confidence_mass(lines)):
                log.debug("page turned 180°: %d lines read the right way up", len(turned))
                lines = [(np.array([bw, bh], np.float32) - quad, text, score) for quad, text, score in turned]
        out: list[TextRegion] = []
        for quad, text, score in lines:
            text = text.strip()
            if not text or score < s.min_score:
                continue
            poly = (quad / scale + np.array([ox, oy], np.float32)).astype(np.float32)
            out.append(TextRegion(
                text=text,
                box=quads_to_boxes(poly[None])[0],
                score=float(np.clip(score, 0.0, 1.0)),
                polygon=poly,
                language=self.language,
            ))
        return out

    def _read_lines(self, bgr: NDArray[np.uint8]) -> tuple[list[tuple[NDArray[np.float32], str, float]], int]:
        """``(quad, text, score)`` per line in reading order, and how many lines were upside down."""
        s = self.settings
        quads = self._detect(np.ascontiguousarray(bgr))
        if not len(quads):
            return [], 0
        quads = np.asarray(quads, np.float32).reshape(-1, 4, 2)
        boxes = quads_to_boxes(quads)
        if len(quads) > s.max_lines:
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            keep = np.sort(np.argsort(-area, kind="stable")[: s.max_lines])
            log.warning("%d text lines in one image; reading the %d largest (max_lines)", len(quads), s.max_lines)
            quads, boxes = quads[keep], boxes[keep]
        order = reading_order(boxes)
        quads = quads[order]
        raw = [quad_crop(bgr, q) for q in quads]
        crops = self._classify(raw)
        turned = sum(int(c is not r and c.shape == r.shape and not np.array_equal(c, r))
                     for c, r in zip(crops, raw, strict=True))
        texts = self._refine(crops, self._recognise(crops))
        lines = [(q, t, sc) for q, (t, sc) in zip(quads, texts, strict=True)]
        return lines, turned

    def _refine(self, crops: list[NDArray[np.uint8]], texts: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Hook for a second recogniser on low-confidence lines (see the ``trocr`` backend)."""
        return texts
