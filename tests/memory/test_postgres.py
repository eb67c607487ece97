"""PostgreSQL specifics: URL selection, migrations, clear errors, and the raw SQL of other modules.

The generic store behaviour runs on both backends in the other test files (``store_target``);
these tests need a PostgreSQL server (see ``pg_server``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from pg_server import new_pg_database

from scenewatch.cli.common import build_config
from scenewatch.errors import StoreError
from scenewatch.memory.backends import open_store
from scenewatch.memory.context import build_context
from scenewatch.memory.postgres import PostgresStore, redact
from scenewatch.memory.retention import prune
from scenewatch.memory.store import SCHEMA_VERSION
from scenewatch.runtime import queries
from scenewatch.runtime.people_service import new_person, store_face
from scenewatch.training.reviews import Correction, add_review, list_reviews
from scenewatch.types import Event, Observation, SourceInfo


def _filled(url: str) -> PostgresStore:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    store.upsert_source(SourceInfo(id="cam", uri="/cam.mp4", kind="file", duration=60.0))
    store.commit_batch([
        Observation(kind="text", source_id="cam", start=1.0, end=4.0, label="text", text="PRIORITY MAIL 50%",
                    payload={"thumbnail": "t/a.jpg"}),
        Observation(kind="object", source_id="cam", start=2.0, end=9.0, label="person", confidence=0.9),
        Observation(kind="gap", source_id="cam", start=10.0, end=11.0, label="gap"),
    ], progress=("cam", 11.0))
    return store


def test_db_url_selects_postgres_through_config_and_cli(pg_url: str, tmp_path: Path) -> None:
    # --db is a pathlib.Path in the CLI, which folds "//" into "/": the URL must survive that.
    cfg = build_config(None, db=Path(pg_url))
    assert cfg.store.url == pg_url and cfg.store.target == pg_url
    with open_store(cfg.store.target) as store:
        assert isinstance(store, PostgresStore) and store.schema_version == SCHEMA_VERSION
    plain = build_config(None, db=tmp_path / "t.db")
    assert plain.store.url is None and plain.store.target == tmp_path / "t.db"
    assert redact("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"


def test_newer_schema_is_refused_and_untouched(pg_url: str) -> None:
    _filled(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 5,))
    with pytest.raises(StoreError, match="newer than this scenewatch"):
        open_store(pg_url)
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION + 5,)
        assert c.execute("SELECT count(*) FROM observations").fetchone() == (3,)


def test_many_openers_of_a_new_database_migrate_it_once(pg_admin_url: str) -> None:
    url = new_pg_database(pg_admin_url)  # empty: no template
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        try:
            start.wait()
            open_store(url).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(url) as c:
        assert c.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_clear_errors(pg_url: str, pg_admin_url: str) -> None:
    store = _filled(pg_url)
    with pytest.raises(StoreError, match=r"SQLite-only SQL \('PRAGMA'\)"):
        store.execute("PRAGMA user_version")
    with pytest.raises(StoreError, match="SQLite-only"), store.transaction() as c:
        c.execute("INSERT OR REPLACE INTO serve_secrets(key, value) VALUES (?, ?)", ("a", "b"))
    reader = open_store(pg_url, readonly=True)
    with pytest.raises(StoreError, match="read-only"):
        reader.set_source_status("cam", "done")
    port = int(pg_admin_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(StoreError, match="cannot connect to timeline database postgresql://x:\\*\\*\\*@"):
        open_store(f"postgresql://x:pw@127.0.0.1:{port + 1}/nope")
    assert store.count() == 3  # nothing half-written


def test_raw_sql_of_other_modules_runs_on_postgres(pg_url: str, tmp_path: Path) -> None:
    store = _filled(pg_url)
    assert store.execute("SELECT count(*) FROM observations WHERE open = ?", (False,)) == [(3,)]  # bools bind as 0/1
    # runtime/queries.py: pages with the FTS filter and cursors, events and their reviews, tokens, MQTT keys
    page = queries.observations_page(store, queries.ObservationFilter(text="priority"), limit=5)
    assert [o["text"] for o in page["items"]] == ["PRIORITY MAIL 50%"]
    first = queries.observations_page(store, queries.ObservationFilter(), limit=1)
    rest = queries.observations_page(store, queries.ObservationFilter(), limit=5, cursor=first["next_cursor"])
    assert [o["kind"] for o in first["items"] + rest["items"]] == ["text", "object", "gap"]
    eid = store.add_event(Event(rule="visitor", source_id="cam", start=2.0, end=9.0, observation_ids=(2,)))
    queries.review_event(store, eid, state="reviewed", note="ok")
    assert queries.get_event(store, eid)["state"] == "reviewed"
    assert [e["id"] for e in queries.events_page(store, state="reviewed")["items"]] == [eid]
    assert queries.latest_ids(store) == (3, eid) and len(queries.observations_after(store, 1)) == 2
    token = queries.create_token(store, "ci")
    assert token["id"] > 0 and queries.verify_token(store, token["token"]) == token["id"]
    queries.revoke_token(store, token["id"])
    assert queries.verify_token(store, token["token"]) is None and queries.list_tokens(store)[0]["revoked"]
    queries.set_admin_password(store, "hunter22")
    assert queries.verify_admin_password(store, "hunter22") and not queries.verify_admin_password(store, "x")
    queries.remember_source(store, "rtsp://cam")
    queries.remember_source(store, "rtsp://cam")
    assert queries.served_sources(store) == ["rtsp://cam"]
    assert queries.gap_count(store, "cam") == 1
    assert [e["id"] for e in queries.mqtt_pending_events(store)] == [eid]
    queries.mqtt_mark_published(store, f"event:{eid}:end")
    queries.mqtt_mark_published(store, f"event:{eid}:end")
    assert queries.mqtt_pending_events(store) == []
    assert queries.mqtt_unpublished(store, ["a", f"event:{eid}:end"]) == ["a"]
    # people: blobs and lastrowid
    pid = new_person(store, "ada")
    vec = np.arange(8, dtype=np.float32) / 10
    fid = store_face(store, pid, _sighting(vec), keep_crop=False)
    (row,) = store.execute("SELECT person_id, vector FROM face_embeddings WHERE id = ?", (fid,))
    assert row[0] == pid and np.array_equal(np.frombuffer(row[1], np.float32), vec)
    # reviews
    review = add_review(store, "observation", 2, correction=Correction(label="courier"), note="n")
    assert review.id > 0 and [r.correction.label for r in list_reviews(store, "observation")] == ["courier"]
    # context (MAX("end")) and retention (json_extract of the thumbnail)
    assert any("PRIORITY MAIL" in line.text for line in build_context(store, "who came?").lines)
    media = tmp_path / "media"
    (media / "t").mkdir(parents=True)
    (media / "t" / "a.jpg").write_bytes(b"x" * 100)
    report = prune(store, media, days=1, now=time.time() + 3 * 86400)
    assert report.observations == 3 and not (media / "t" / "a.jpg").exists() and store.count() == 0
    # delete a source: cascades its rows and events
    assert queries.delete_source_data(store, "cam") == 0 and store.list_sources() == []


def _sighting(vec: np.ndarray):  # type: ignore[no-untyped-def]
    from scenewatch.perception.faces.models import FaceBox
    from scenewatch.perception.faces.recognizer import FaceSighting

    box = FaceBox(xyxy=np.array([0, 0, 4, 4], np.float32), score=1.0, landmarks=np.zeros((6, 2), np.float32))
    return FaceSighting(box=box, vector=vec, crop=np.zeros((4, 4, 3), np.uint8))


def test_schemas_stay_in_step(pg_url: str, tmp_path: Path) -> None:
    """Both backends have the same tables and columns at the same schema version (a new SQLite
    migration without its PostgreSQL twin fails here)."""
    from scenewatch.memory import postgres_schema
    from scenewatch.memory import store as sqlite_store

    assert len(postgres_schema.MIGRATIONS) == len(sqlite_store.MIGRATIONS) == SCHEMA_VERSION
    with open_store(tmp_path / "t.db") as lite:
        tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'observations_fts%' AND name NOT LIKE 'sqlite_%'")]
        lite_cols = {(t, r[1]) for t in tables for r in lite.execute(f"PRAGMA table_info({t})")}
    with psycopg.connect(pg_url) as c:
        pg_cols = {(r[0], r[1]) for r in c.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")}
    only_pg = {("observations", "fts"), ("observations", "fts_len"), ("schema_version", "version"),
               ("fts_stats", "slot"), ("fts_stats", "docs"), ("fts_stats", "tokens")}
    assert pg_cols - only_pg == lite_cols
