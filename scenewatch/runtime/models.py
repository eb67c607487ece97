"""The models a running process shares: built once from the config, handed to the layers that use them.

Memory (vector index, search), concept mapping and the API all need the configured text
embedder; none of them builds it. The service layer asks this module, which builds each
distinct configuration once per process and hands the same instance to every caller.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scenewatch.memory.store import TimelineStore
    from scenewatch.memory.vectors import Embedder as IndexEmbedder
    from scenewatch.perception.embed import Embedder
    from scenewatch.perception.embed.settings import EmbedSettings

_EMBEDDERS: dict[tuple[str, str | None, int], Embedder] = {}
_LOCK = threading.Lock()


def embedder(settings: EmbedSettings) -> Embedder:
    """The configured embedder (``perception.embed``), built once per process and reused.

    Raises:
        BackendUnavailable: its extra or weights are not installed.
    """
    from scenewatch.perception.embed import EMBEDDERS

    key = (settings.backend, settings.model, settings.batch_size)
    with _LOCK:
        if key not in _EMBEDDERS:
            cls: Any = EMBEDDERS.get(settings.backend)
            kwargs: dict[str, Any] = {"batch_size": settings.batch_size}
            if settings.model:
                kwargs["model"] = settings.model
            _EMBEDDERS[key] = cls(**kwargs)
        return _EMBEDDERS[key]


class LazyEmbedder:
    """The configured embedder, built on first use (concept mapping often needs none).

    Satisfies :class:`~scenewatch.perception.embed.Embedder`; hand it where an embedder
    *may* be needed so that loading the model costs only the runs that use it.
    """

    def __init__(self, settings: EmbedSettings) -> None:
        self.settings = settings

    @property
    def model_name(self) -> str:
        """The model's name (builds it)."""
        return embedder(self.settings).model_name

    @property
    def dim(self) -> int:
        """Vector dimension (builds it)."""
        return embedder(self.settings).dim

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``N×dim`` vectors for ``N`` texts."""
        return embedder(self.settings).embed_texts(texts)


def index_embedder(settings: EmbedSettings, store: TimelineStore) -> IndexEmbedder | None:
    """The configured embedder for a store's vector index, built on first use; ``None`` without vectors.

    What the service layer hands ``ask`` (open questions pick evidence by embedding relevance)
    and search; memory checks the model against the index before using it.
    """
    from scenewatch.memory.vectors import VectorIndex

    return LazyEmbedder(settings) if VectorIndex.for_store(store).model() is not None else None


def clear() -> None:
    """Forget every built model (tests; a config reload)."""
    with _LOCK:
        _EMBEDDERS.clear()
