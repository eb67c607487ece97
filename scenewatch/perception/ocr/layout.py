"""Reading order of text lines on a page: columns before rows (recursive XY-cut).

rapidocr finds every word of a multi-column page but returns lines top to bottom across the
columns, interleaving them. Here the set of line boxes is split recursively at its widest empty
gap: a vertical gap separates columns (read left, then right), a horizontal one separates
blocks (read top, then bottom). A title spanning both columns is cut off first, because the
gap under it is wider than the gaps between lines; the column gutter comes next.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _widest_gap(starts: NDArray[np.float32], ends: NDArray[np.float32]) -> tuple[float, float]:
    """The widest empty stretch between intervals: ``(width, cut position)``; width ≤ 0 if none."""
    order = np.argsort(starts, kind="stable")
    best, cut = 0.0, 0.0
    reach = float(ends[order[0]])
    for i in order[1:]:
        gap = float(starts[i]) - reach
        if gap > best:
            best, cut = gap, float(starts[i]) - gap / 2
        reach = max(reach, float(ends[i]))
    return best, cut


def reading_order(boxes: NDArray[np.float32]) -> list[int]:
    """Indices of ``N×4`` xyxy line boxes in reading order (columns, then top to bottom).

    Args:
        boxes: line boxes in pixels.

    Returns:
        A permutation of ``range(N)``.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    out: list[int] = []
    stack: list[NDArray[np.intp]] = [np.arange(len(boxes))]
    while stack:  # depth-first, earliest block first (stack holds later blocks below earlier ones)
        idx = stack.pop()
        if len(idx) <= 1:
            out.extend(int(i) for i in idx)
            continue
        b = boxes[idx]
        gx, cx = _widest_gap(b[:, 0], b[:, 2])
        gy, cy = _widest_gap(b[:, 1], b[:, 3])
        if gx <= 0 and gy <= 0:  # overlapping lines: by row, then left to right
            heights = np.maximum(b[:, 3] - b[:, 1], 1.0)
            row = np.round((b[:, 1] + b[:, 3]) / 2 / float(np.median(heights)))
            out.extend(int(i) for i in idx[np.lexsort((b[:, 0], row))])
            continue
        if gy >= gx:
            first, second = idx[b[:, 3] <= cy], idx[b[:, 3] > cy]
        else:
            first, second = idx[b[:, 2] <= cx], idx[b[:, 2] > cx]
        stack.append(second)
        stack.append(first)
    return out
