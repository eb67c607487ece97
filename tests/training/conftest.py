"""Shared fixtures for learning: one store filled by the real pipeline, its export, and a tiny Qwen2.5-VL.

The store is filled once per session by ``scenewatch watch`` through the service layer on the shared
front-door scene. The tiny model is a random Qwen2.5-VL config built here (no weights downloaded) with
a word-level tokenizer whose vocabulary covers the exported dataset, and the image-only processor of
tests/reasoning/test_qwen_vl.py (the video processor needs torchvision, which does not install beside
the CPU torch here).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def watched_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timeline of the front-door scene written by the real pipeline (read-only for tests: copy to edit)."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("rapidocr")
    from scenewatch.config import load_config
    from scenewatch.runtime import service

    db = tmp_path_factory.mktemp("learn") / "scene.db"
    cfg = load_config(None, {"store": {"path": str(db)}, "concepts": ["doorbell", "PRIORITY MAIL"]})
    summaries = service.watch(str(FIXTURES / "scene" / "scene.mp4"), cfg)
    assert summaries and summaries[0].status == "done"
    return db


@pytest.fixture()
def store_copy(watched_store: Path, tmp_path: Path) -> Path:
    """A private copy of the watched store that a test may review/edit."""
    dst = tmp_path / "scene.db"
    shutil.copy(watched_store, dst)
    return dst


@pytest.fixture(scope="session")
def exported(watched_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ShareGPT export of the watched store."""
    from scenewatch.memory.store import TimelineStore
    from scenewatch.training.export import export_dataset

    out = tmp_path_factory.mktemp("export") / "data.jsonl"
    db = out.parent / "scene.db"
    shutil.copy(watched_store, db)
    with TimelineStore(db) as store:
        summary = export_dataset(store, out)
    assert summary.records > 0
    return out
