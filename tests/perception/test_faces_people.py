"""``people add|list|name|forget`` on real photos, through the service and the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from scenewatch.config import load_config  # noqa: E402
from scenewatch.errors import BackendUnavailable, ConfigError  # noqa: E402
from scenewatch.memory.store import TimelineStore  # noqa: E402
from scenewatch.perception.faces.recognizer import FaceRecognizer  # noqa: E402
from scenewatch.runtime import people_service  # noqa: E402

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


@pytest.fixture(scope="module")
def recognizer() -> FaceRecognizer:
    try:
        return FaceRecognizer()
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"face weights missing under CI: {exc}")
        pytest.skip(f"face weights unavailable: {exc}")


def _rgb(name: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FACES / name))[:, :, ::-1])


def test_enrol_recognise_cluster_name_forget(tmp_path: Path, recognizer: FaceRecognizer) -> None:
    config = load_config(None, {"store": {"path": str(tmp_path / "t.db")}, "perception": {"faces": {"enabled": True}}})
    entry = people_service.add_person(config, "Barack", [FACES / "obama.jpg"], recognizer)
    assert (entry.name, entry.faces) == ("Barack", 1)

    with TimelineStore(config.store.path) as store:
        gallery = people_service.load_gallery(store, config)
        # a known face is named; an unknown one is stored in a new cluster, and its second photo would join it
        for name, want in [("obama3.jpg", "Barack"), ("biden.jpg", None)]:
            hit = recognizer.identify(_rgb(name), gallery)
            assert hit is not None
            match = people_service.record_sighting(store, gallery, hit[0], hit[1], name)
            assert match.name == want, name
            if want is None:
                cluster = match.person_id
                assert cluster > 0

    listed = people_service.list_people(config)
    assert [(e.name, e.faces) for e in listed] == [("Barack", 1), (None, 1)]
    named = people_service.name_cluster(config, cluster, "Joe")
    assert (named.id, named.name) == (cluster, "Joe")
    with pytest.raises(ConfigError):
        people_service.name_cluster(config, cluster, "Again")

    assert people_service.forget_person(config, "Joe") == 1
    assert [e.name for e in people_service.list_people(config)] == ["Barack"]
    with sqlite3.connect(config.store.path) as conn:  # descriptors and crops are gone, not just unlinked
        assert conn.execute("SELECT COUNT(*) FROM face_embeddings WHERE person_id = ?", (cluster,)).fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM face_embeddings WHERE crop IS NOT NULL").fetchone()[0] == 1
    with pytest.raises(ConfigError):
        people_service.forget_person(config, "Joe")


def test_photo_without_a_face_is_refused(tmp_path: Path, recognizer: FaceRecognizer) -> None:
    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 128, np.uint8))
    config = load_config(None, {"store": {"path": str(tmp_path / "t.db")}})
    with pytest.raises(ConfigError, match="no face"):
        people_service.add_person(config, "Nobody", [blank], recognizer)
    assert people_service.list_people(config) == []


def test_cli_add_list_forget(tmp_path: Path, recognizer: FaceRecognizer) -> None:
    from typer.testing import CliRunner

    from scenewatch.cli.main import app

    db = str(tmp_path / "c.db")
    runner = CliRunner()
    res = runner.invoke(app, ["people", "add", "Barack", str(FACES / "obama.jpg"), str(FACES / "obama2.jpg"),
                              "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["faces"] == 2
    res = runner.invoke(app, ["people", "list", "--db", db, "--json"])
    assert [(p["name"], p["faces"]) for p in json.loads(res.stdout)] == [("Barack", 2)]
    res = runner.invoke(app, ["people", "forget", "Barack", "--db", db, "--json"])
    assert json.loads(res.stdout)["faces_deleted"] == 2
