"""TrOCR (``transformers`` ``VisionEncoderDecoderModel``) as the recogniser fallback: full tier.

Lines are found and read by the embedded rapidocr reader; lines it reads with a score under
``fallback_below`` are re-read by TrOCR, and TrOCR's reading replaces rapidocr's when its
confidence (geometric mean of the generated tokens' probabilities) is higher.

Weights are never downloaded here: ``trocr_model`` names a local directory or a model already in
the Hugging Face cache (``local_files_only``). Needs ``pip install 'scenewatch[trocr]'``
(torch + transformers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.ocr.rapidocr_v3 import RapidOcrReader
from scenewatch.perception.ocr.settings import OcrSettings

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenewatch[trocr]'"
MAX_NEW_TOKENS = 48


class TrOcrRecogniser:
    """Reads single-line crops with a ``VisionEncoderDecoderModel``.

    Args:
        model: the encoder-decoder model (eval mode is set here).
        decode: turns generated token ids into text (a tokenizer's ``decode``).
        image_size: square input side of the vision encoder.
        mean: per-channel normalisation mean (0..1 scale).
        std: per-channel normalisation std.
    """

    def __init__(self, model: Any, decode: Callable[[Sequence[int]], str], image_size: int,
                 mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5)) -> None:
        self.model = model.eval()
        self.decode = decode
        self.image_size = int(image_size)
        self.mean = np.asarray(mean, np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, np.float32).reshape(1, 1, 3)

    @classmethod
    def from_pretrained(cls, name: str) -> TrOcrRecogniser:
        """Load a TrOCR model and processor from a local directory or the local HF cache.

        Raises:
            BackendUnavailable: torch/transformers missing, or the weights are not on this machine.
        """
        try:
            from transformers import TrOCRProcessor, VisionEncoderDecoderModel
        except ImportError as exc:
            raise BackendUnavailable(f"the 'trocr' reader needs torch and transformers: {INSTALL_HINT}") from exc
        try:
            processor = TrOCRProcessor.from_pretrained(name, local_files_only=True)
            model = VisionEncoderDecoderModel.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError) as exc:  # not cached / not a model directory / not a valid name
            raise BackendUnavailable(
                f"TrOCR weights {name!r} are not on this machine; set perception.ocr.trocr_model to a local "
                "directory holding a TrOCR checkpoint") from exc
        size = processor.image_processor.size
        side = int(size.get("height", 384)) if isinstance(size, dict) else int(size)
        return cls(model, lambda ids: str(processor.tokenizer.decode(ids, skip_special_tokens=True)), side,
                   processor.image_processor.image_mean, processor.image_processor.image_std)

    def preprocess(self, crops: list[NDArray[np.uint8]]) -> Any:
        """BGR crops → ``N×3×S×S`` float tensor (RGB, resized, normalised)."""
        import cv2
        import torch

        batch = []
        for crop in crops:
            rgb = cv2.resize(crop[:, :, ::-1], (self.image_size, self.image_size), interpolation=cv2.INTER_CUBIC)
            batch.append(((rgb.astype(np.float32) / 255.0 - self.mean) / self.std).transpose(2, 0, 1))
        return torch.from_numpy(np.stack(batch))

    def recognise(self, crops: list[NDArray[np.uint8]]) -> list[tuple[str, float]]:
        """``(text, confidence)`` for each BGR line crop."""
        if not crops:
            return []
        import torch

        with torch.inference_mode():
            out = self.model.generate(self.preprocess(crops), max_new_tokens=MAX_NEW_TOKENS,
                                      output_scores=True, return_dict_in_generate=True, num_beams=1,
                                      do_sample=False)
        sequences = out.sequences
        steps = torch.stack(out.scores, dim=1).log_softmax(-1)  # N×T×V
        generated = sequences[:, -steps.shape[1]:]
        logp = steps.gather(-1, generated.unsqueeze(-1)).squeeze(-1)
        results = []
        pad = self.model.generation_config.pad_token_id
        for ids, lp in zip(generated.tolist(), logp, strict=True):
            valid = [i for i, tok in enumerate(ids) if tok != pad]
            conf = math.exp(float(lp[valid].mean())) if valid else 0.0
            results.append((self.decode(ids).strip(), conf))
        return results


class TrOcrFallbackReader(RapidOcrReader):
    """rapidocr lines, with low-confidence ones re-read by TrOCR.

    Args:
        settings: OCR settings (``trocr_model``, ``fallback_below``).
        recogniser: a ready TrOCR recogniser (loaded from ``settings.trocr_model`` when ``None``).
    """

    name = "trocr"

    def __init__(self, settings: OcrSettings | None = None, recogniser: TrOcrRecogniser | None = None) -> None:
        super().__init__(settings)
        self.recogniser = recogniser or TrOcrRecogniser.from_pretrained(self.settings.trocr_model)

    def _refine(self, crops: list[NDArray[np.uint8]], texts: list[tuple[str, float]]) -> list[tuple[str, float]]:
        low = [i for i, (_, score) in enumerate(texts) if score < self.settings.fallback_below]
        if not low:
            return texts
        out = list(texts)
        for i, (text, score) in zip(low, self.recogniser.recognise([crops[i] for i in low]), strict=True):
            if text and score > out[i][1]:
                log.debug("TrOCR re-read %r (%.2f) as %r (%.2f)", out[i][0], out[i][1], text, score)
                out[i] = (text, score)
        return out
