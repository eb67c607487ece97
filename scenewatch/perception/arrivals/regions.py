"""Regions of lasting change, and which way a change went (arrived, or gone).

A lasting region is a connected group of pixels that have rested in the foreground for at
least ``dwell_seconds``. Whether the change is an arrival or a removal is read from the
region's outline (the "edge energy" test of abandoned/removed-object detection): an object
that arrived brings its outline into the current frame; one that was removed takes its
outline away, so the outline's edges are in the background image instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.arrivals.background import BackgroundStep
from scenewatch.perception.arrivals.settings import ArrivalSettings

REST_SHARE = 0.8  # share of a region's pixels that must have rested dwell_seconds
FIRST_SEEN_PERCENTILE = 10  # the region was first seen when a tenth of it had changed
LAST_PART_PERCENTILE = 90  # …and had finished arriving when nine tenths had
JOIN_PX = 9  # pieces of one object closer than this (analysis px) are one region


@dataclass(frozen=True, slots=True)
class Region:
    """A lasting change at analysis resolution.

    Attributes:
        box: ``x1, y1, x2, y2`` (exclusive ends).
        mask: the changed pixels within the box.
        age: seconds the region has rested (as a whole: since its last part became foreground).
        first_seen: media time the region's change began (its pixels became foreground).
    """

    box: tuple[int, int, int, int]
    mask: NDArray[np.bool_]
    age: float
    first_seen: float


def lasting_regions(step: BackgroundStep, settings: ArrivalSettings) -> list[Region]:
    """Connected regions at rest in the foreground whose pixels have mostly rested ``dwell_seconds``.

    A region is judged as a whole: it qualifies when ``REST_SHARE`` of its pixels have rested
    long enough, so an object still sliding into place is not cut in two, and its age is the
    time since that share came to rest.
    """
    import cv2

    at_rest = step.rest_age > 0
    if not (step.rest_age >= settings.dwell_seconds).any():
        return []
    total = at_rest.size
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (JOIN_PX, JOIN_PX))
    joined = cv2.dilate(at_rest.astype(np.uint8), kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out: list[Region] = []
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        mask = (labels[y:y + h, x:x + w] == i) & at_rest[y:y + h, x:x + w]
        area = int(mask.sum())
        if area < settings.min_area_frac * total or area > settings.max_area_frac * total:
            continue
        age = float(np.percentile(step.rest_age[y:y + h, x:x + w][mask], 100 * (1 - REST_SHARE)))
        if age < settings.dwell_seconds:
            continue
        ys, xs = np.nonzero(mask)
        bx1, by1, bx2, by2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        since = step.fg_since[y:y + h, x:x + w][mask]
        since = since[~np.isnan(since)]
        first = float(np.percentile(since, FIRST_SEEN_PERCENTILE)) if since.size else float("nan")
        if since.size:  # a plain object sliding into place looks still inside: it rests once it stops growing
            last_part = float(np.percentile(since, LAST_PART_PERCENTILE))
            age = min(age, max(0.0, step.time - last_part))
            if age < settings.dwell_seconds:
                continue
        out.append(Region((x + bx1, y + by1, x + bx2, y + by2), mask[by1:by2, bx1:bx2], age, first))
    return out


def _edges(grey: NDArray[np.float32]) -> NDArray[np.float32]:
    import cv2

    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(gx, gy), np.float32)


def edge_contrast(step: BackgroundStep, region: Region, pad: int = 3) -> float:
    """Edge energy along the region's outline in the current frame over that in the background.

    ``≥ 1``: the outline belongs to the current frame (an object arrived); ``< 1``: it belongs
    to the background (an object was removed).
    """
    import cv2

    h, w = step.foreground.shape
    x1, y1, x2, y2 = region.box
    ax1, ay1, ax2, ay2 = max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad)
    mask = np.zeros((ay2 - ay1, ax2 - ax1), np.uint8)
    mask[y1 - ay1:y2 - ay1, x1 - ax1:x2 - ax1] = region.mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    outline = (cv2.dilate(mask, kernel, iterations=2) - cv2.erode(mask, kernel, iterations=1)).astype(bool)
    if outline.sum() < 4:
        return 1.0
    cur = cv2.cvtColor(np.clip(step.image[ay1:ay2, ax1:ax2], 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    bg = cv2.cvtColor(step.background[ay1:ay2, ax1:ax2], cv2.COLOR_RGB2GRAY)
    e_cur = float(_edges(cur.astype(np.float32))[outline].mean())
    e_bg = float(_edges(bg.astype(np.float32))[outline].mean())
    return (e_cur + 1.0) / (e_bg + 1.0)


def overlap(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Share of each box in ``a`` (N×4) covered by each box in ``b`` (M×4): an N×M array."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-6)
    out: NDArray[np.float32] = (inter / area[:, None]).astype(np.float32)
    return out
