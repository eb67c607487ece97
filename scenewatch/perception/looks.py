"""A region's *look*: its brightness on a coarse grid, light-normalised, to tell "changed" from "same".

Used where a stage skips work on what has not changed since it last looked (OCR re-reads, the
detector on a static scene). Block means average sensor noise away and dividing by the region's
mean takes out slow light drift or an exposure change, so only a real change (something arrived,
moved, turned) shows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LOOK_GRID = 16  # a region's look: block means on this many cells a side
LOOK_CHANGE = 0.08  # largest relative change of one cell's brightness that still counts as the same look


def region_look(image: NDArray[np.uint8], box: NDArray[np.float32] | None = None,
                grid: tuple[int, int] = (LOOK_GRID, LOOK_GRID)) -> NDArray[np.float32] | None:
    """``box``'s brightness (the whole image if ``None``) on a ``grid`` (columns, rows) of block means,
    divided by its mean; ``None`` if the region is smaller than the grid."""
    import cv2

    h, w = image.shape[:2]
    if box is None:
        x1, y1, x2, y2 = 0, 0, w, h
    else:
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < grid[0] or y2 - y1 < grid[1]:
        return None
    crop = image[y1:y2, x1:x2]
    grey = crop.mean(axis=2, dtype=np.float32) if crop.ndim == 3 else crop.astype(np.float32)
    cells = np.asarray(cv2.resize(grey, grid, interpolation=cv2.INTER_AREA), np.float32)
    return cells / max(float(cells.mean()), 1.0)


def same_look(a: NDArray[np.float32] | None, b: NDArray[np.float32] | None) -> bool:
    """Whether two looks of a region show the same thing (no cell changed by more than ``LOOK_CHANGE``)."""
    return a is not None and b is not None and a.shape == b.shape and float(np.abs(a - b).max()) <= LOOK_CHANGE
