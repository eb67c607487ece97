"""Fixtures for memory tests (helpers live in memory_corpus.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore

# Test modules here import the shared corpus helpers as ``memory_corpus``.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def timeline(tmp_path: Path) -> Iterator[TimelineStore]:
    with TimelineStore(tmp_path / "timeline.db") as s:
        yield s


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    minilm = pytest.importorskip("scenewatch.perception.embed.minilm")
    try:
        return minilm.MiniLMEmbedder()
    except Exception as exc:  # BackendUnavailable on installs without the weights package
        pytest.skip(f"MiniLM unavailable: {exc}")
