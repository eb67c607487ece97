"""Reading scene text: labels, plates, signs, screens and documents held to the camera.

Backends, one file each, registered by name and imported lazily:

* ``rapidocr`` — PP-OCR (v6 small) ONNX from ``rapidocr`` 3.10 (embedded default, best quality).
* ``rapidocr-fast`` — PP-OCRv4 ONNX from ``rapidocr-onnxruntime`` 1.4.4 (fastest).
* ``trocr`` — rapidocr lines re-read by TrOCR (``transformers``) when their score is low (full tier).

A reader reads the whole image, or only given regions of interest (much faster: the detector's
cost grows with the pixels it sees). Readings are merged over time by :mod:`.merge` and turned
into timeline rows by :mod:`.stage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from scenewatch.registry import Registry
from scenewatch.types import Frame, TextRegion

if TYPE_CHECKING:
    from scenewatch.perception.ocr.settings import OcrSettings


@runtime_checkable
class TextReader(Protocol):
    """Finds and recognises text lines in an image."""

    def read(self, frame_or_image: Frame | NDArray[Any],
             regions: NDArray[np.float32] | None = None) -> list[TextRegion]:
        """Read text lines.

        Args:
            frame_or_image: a :class:`Frame` or an image array (RGB, grey or RGBA).
            regions: ``K×4`` xyxy pixel boxes to read inside; ``None`` reads the whole image.

        Returns:
            Lines in reading order (per region), with boxes in the image's pixels.
        """
        ...


TEXT_READERS: Registry[type] = Registry(
    "text reader",
    {
        "rapidocr": "scenewatch.perception.ocr.rapidocr_v3:RapidOcrReader",
        "rapidocr-fast": "scenewatch.perception.ocr.rapidocr_fast:RapidOcrFastReader",
        "trocr": "scenewatch.perception.ocr.trocr:TrOcrFallbackReader",
    },
)


def build_reader(settings: OcrSettings) -> TextReader:
    """Build the reader named by ``settings.backend`` (and its fallback recogniser, if set).

    Raises:
        UnknownBackend: no reader of that name.
        BackendUnavailable: its package or weights are missing (the message says what to install).
    """
    reader: TextReader = TEXT_READERS.get(settings.backend)(settings)
    return reader


__all__ = ["TEXT_READERS", "TextReader", "build_reader"]
