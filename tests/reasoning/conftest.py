"""Fixtures: a store holding the three synthetic scenes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore
from synth import SCENES, build_scene, load_scene


@pytest.fixture(scope="module")
def scene_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimelineStore]:
    path = Path(tmp_path_factory.mktemp("scenes")) / "scenes.db"
    store = TimelineStore(path)
    for name in SCENES:
        load_scene(store, build_scene(name))
    yield store
    store.close()
