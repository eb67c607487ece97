"""A timeline filled by the REAL pipeline on the front-door scene, shared by the serving tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scenewatch.runtime import service
from tests.api.serving_helpers import SCENE, make_config


@pytest.fixture(scope="session")
def scene_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timeline the pipeline filled from tests/fixtures/scene/scene.mp4 (once per session)."""
    db = tmp_path_factory.mktemp("served") / "scene.db"
    summaries = service.watch(str(SCENE), make_config(db))
    assert summaries and summaries[0].status == "done", summaries
    return db


@pytest.fixture(scope="module")
def scene_db(scene_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the scene timeline (with its media folder) for one test module."""
    target = tmp_path_factory.mktemp("scene") / "scene.db"
    with service.open_store(make_config(scene_db_master)) as store:  # checkpoint the WAL into the file
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(scene_db_master, target)
    media = scene_db_master.with_suffix(".media")
    if media.is_dir():
        shutil.copytree(media, target.with_suffix(".media"))
    return target


@pytest.fixture(scope="session")
def scene_truth_json() -> dict:
    return json.loads((SCENE.parent / "scene.json").read_text())
