"""Box and mask helpers shared by detector backends: IoU, NMS, mask → box, RLE."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def box_iou(a: NDArray[np.floating[Any]], b: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Pairwise IoU of ``N×4`` and ``M×4`` xyxy boxes → ``N×M``."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou_threshold: float,
        classes: NDArray[np.int64] | None = None, max_out: int = 100) -> NDArray[np.int64]:
    """Greedy non-maximum suppression, class-aware when ``classes`` is given.

    Returns:
        Indices of kept boxes, best score first.
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    b = boxes.astype(np.float32)
    if classes is not None:
        # Shift each class into its own region so boxes of different classes never overlap.
        offset = (float(b.max()) + 1.0) * classes.astype(np.float32)[:, None]
        b = b + offset
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_out:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(b[i:i + 1], b[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, np.int64)


def mask_to_box(mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Tight xyxy box (exclusive x2/y2) around a boolean ``H×W`` mask; zeros if empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return np.zeros(4, np.float32)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], np.float32)


def rle_encode(mask: NDArray[np.bool_]) -> dict[str, Any]:
    """COCO-style uncompressed RLE of a boolean ``H×W`` mask (column-major, zeros first).

    The result is JSON-serialisable (``{"size": [h, w], "counts": [...]}``) and is what
    ``pycocotools.mask.frPyObjects`` accepts.
    """
    flat = np.asarray(mask, bool).ravel(order="F")
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict[str, Any]) -> NDArray[np.bool_]:
    """Inverse of :func:`rle_encode`."""
    h, w = (int(v) for v in rle["size"])
    counts = np.asarray(rle["counts"], np.int64)
    values = np.arange(len(counts)) % 2 == 1
    flat = np.repeat(values, counts)
    if flat.size != h * w:
        raise ValueError(f"RLE counts sum to {flat.size}, expected {h * w}")
    return flat.reshape((h, w), order="F")
