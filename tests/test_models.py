"""The service layer builds each configured embedder once and hands it to memory and concept mapping."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from scenewatch.perception.embed import EMBEDDERS
from scenewatch.perception.embed.settings import EmbedSettings
from scenewatch.runtime import models


class _CountingEmbedder:
    built = 0

    def __init__(self, batch_size: int = 32, model: str | None = None) -> None:
        type(self).built += 1
        self.model_name = f"counting:{model}"
        self.dim = 3

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.tile(np.array([1.0, 0.0, 0.0], np.float32), (len(texts), 1))


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_CountingEmbedder]]:
    models.clear()
    _CountingEmbedder.built = 0
    real_get = EMBEDDERS.get
    monkeypatch.setattr(EMBEDDERS, "get", lambda name: _CountingEmbedder if name == "counting" else real_get(name))
    yield _CountingEmbedder
    models.clear()


def test_one_embedder_per_configuration(counting: type[_CountingEmbedder]) -> None:
    a = models.embedder(EmbedSettings(backend="counting"))
    assert models.embedder(EmbedSettings(backend="counting")) is a and counting.built == 1
    other = models.embedder(EmbedSettings(backend="counting", model="big"))
    assert other is not a and other.model_name == "counting:big" and counting.built == 2


def test_lazy_embedder_builds_only_when_used(counting: type[_CountingEmbedder]) -> None:
    lazy = models.LazyEmbedder(EmbedSettings(backend="counting"))
    assert counting.built == 0
    assert lazy.embed_texts(["a", "b"]).shape == (2, 3) and lazy.dim == 3 and counting.built == 1
    assert lazy.model_name == models.embedder(EmbedSettings(backend="counting")).model_name and counting.built == 1


def test_memory_builds_no_model() -> None:
    from scenewatch.memory import search, vectors

    assert not hasattr(vectors, "build_embedder") and not hasattr(vectors, "index_for_config")
    assert "EMBEDDERS" not in vars(search) and "EMBEDDERS" not in vars(vectors)
