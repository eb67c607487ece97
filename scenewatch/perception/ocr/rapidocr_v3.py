"""PP-OCR (v6 small) through ``rapidocr`` 3.10: the embedded default text reader.

The package ships its det/cls/rec ONNX models (about 27 MB) and downloads nothing; their
sha256s are pinned below. Two settings differ from rapidocr's defaults on purpose: the
detector limits the *longest* side to 960 px (``limit_type=max``) instead of enlarging the
short side to 736 px, so a small region of interest is read at native scale and costs a
fraction of a full frame. Images are decoded by scenewatch and passed as arrays.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.ocr.base import DetRecReader
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.weights import find_package_file

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'rapidocr==3.10.0'"
MODEL_SHA256 = {
    "PP-OCRv6_det_small.onnx": "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    "PP-OCRv6_rec_small.onnx": "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    "ch_ppocr_mobile_v2.0_cls_mobile.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}


class RapidOcrReader(DetRecReader):
    """Text reader on rapidocr 3.10 (PP-OCRv6 small det + rec, PP-OCR mobile angle classifier).

    Args:
        settings: OCR settings (``det_limit_side_len``, ``threads``, ``min_score``, limits).
        verify: check the pinned sha256 of each model (cached after the first success).

    Raises:
        BackendUnavailable: rapidocr or its models are not installed.
        ModelIntegrityError: a model file differs from the pinned one.
    """

    name = "rapidocr"

    def __init__(self, settings: OcrSettings | None = None, verify: bool = True) -> None:
        super().__init__(settings)
        for file, digest in MODEL_SHA256.items():
            path = find_package_file("rapidocr", f"models/{file}", install=INSTALL_HINT,
                                     sha256=digest if verify else None, needed_by="the 'rapidocr' text reader")
        model_dir = path.parent
        if importlib.util.find_spec("rapidocr") is None:  # imported on first use (see _engine)
            raise BackendUnavailable(f"the 'rapidocr' text reader needs rapidocr 3.10: {INSTALL_HINT}")
        threads = self.settings.threads or -1
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.model_root_dir": str(model_dir),
            "Global.text_score": 0.0,  # scenewatch filters by min_score itself
            "Det.limit_type": "max",
            "Det.limit_side_len": self.settings.det_limit_side_len,
            "Det.model_path": str(model_dir / "PP-OCRv6_det_small.onnx"),
            "Rec.model_path": str(model_dir / "PP-OCRv6_rec_small.onnx"),
            "Cls.model_path": str(model_dir / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1 if threads > 0 else -1,
        }
        self._params = params
        self._engine_built: Any = None
        self._lock = threading.Lock()

    @property
    def _engine(self) -> Any:
        """The rapidocr engine, imported and built on first use (~1 s: its configuration, three sessions).

        Built on the thread that reads, so a pipeline starts decoding while the reader loads.
        """
        if self._engine_built is None:
            with self._lock:
                if self._engine_built is None:
                    with _no_download_table():
                        from rapidocr import RapidOCR

                    _quiet_session_threads()
                    self._engine_built = RapidOCR(params=self._params)
        return self._engine_built

    def _detect(self, bgr: NDArray[np.uint8]) -> NDArray[np.float32]:
        # Flags are passed every call: rapidocr keeps the last call's flags as its new defaults.
        res = self._engine(bgr, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(res, "boxes", None)
        if boxes is None or not len(boxes):
            return np.zeros((0, 4, 2), np.float32)
        return np.asarray(boxes, np.float32).reshape(-1, 4, 2)

    def _classify(self, crops: list[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
        if not crops:
            return crops
        imgs, _ = self._engine.cls_and_rotate(crops)
        return list(imgs)

    def _recognise(self, crops: list[NDArray[np.uint8]]) -> list[tuple[str, float]]:
        if not crops:
            return []
        res = self._engine.recognize_txt(crops)
        return [(str(t), float(s)) for t, s in zip(res.txts or (), res.scores or (), strict=True)]


@contextlib.contextmanager
def _no_download_table() -> Iterator[None]:
    """Import rapidocr without its table of model download URLs.

    rapidocr parses ``default_models.yaml`` (1,600 lines of URLs) with OmegaConf when it is
    imported: ~0.9 s of pure-Python CPU, holding the GIL while the decoder waits. The table is only
    read to download a model whose path is not given; scenewatch gives a local path for every
    model and never downloads, so rapidocr gets an empty table (a missing model is then an error
    instead of a download).
    """
    from omegaconf import OmegaConf

    original = OmegaConf.load

    def load(file_: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(str(file_)).name == "default_models.yaml":
            return OmegaConf.create({})
        return original(file_, *args, **kwargs)

    OmegaConf.load = load  # type: ignore[method-assign]
    try:
        yield
    finally:
        OmegaConf.load = original  # type: ignore[method-assign]


def _quiet_session_threads() -> None:
    """Make rapidocr's onnxruntime sessions park idle pool threads instead of spinning, plan no memory.

    rapidocr builds its sessions itself and exposes no option for this; its sessions are built
    through ``OrtInferSession._init_sess_opts``, so that is wrapped once per process. With the
    default spinning, the OCR pool's idle threads kept a core busy between reads while the
    detector and Whisper needed it.
    """
    from rapidocr.inference_engine.onnxruntime import main as ort_main

    cls: Any = ort_main.OrtInferSession
    original = cls._init_sess_opts
    if getattr(original, "_scenewatch_quiet", False):
        return

    def init_sess_opts(cfg: Any) -> Any:
        opts = original(cfg)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.disable_prepacking", "1")  # no second copy of the weights
        opts.enable_mem_pattern = False  # every region has its own size: planned buffers per shape only pile up
        return opts

    init_sess_opts._scenewatch_quiet = True  # type: ignore[attr-defined]
    cls._init_sess_opts = staticmethod(init_sess_opts)
