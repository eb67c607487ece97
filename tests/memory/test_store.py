"""The timeline store: WAL, FTS, migrations, atomic progress, clear errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from scenewatch.errors import StoreError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import SCHEMA_VERSION, TimelineStore, fts_query
from scenewatch.types import Event, Observation, SourceInfo


def _store(target: str | Path) -> TimelineStore:
    s = open_store(target)
    s.upsert_source(SourceInfo(id="cam", uri="/x.mp4", kind="file", duration=30.0))
    return s


def test_sqlite_is_wal(tmp_path: Path) -> None:
    assert _store(tmp_path / "t.db").execute("PRAGMA journal_mode")[0][0] == "wal"


def test_roundtrip_and_fts(store_target: str | Path) -> None:
    s = _store(store_target)
    ids = s.commit_batch([
        Observation(kind="text", source_id="cam", start=8.8, end=20.0, label="text", text="PRIORITY MAIL",
                    confidence=0.97, box=(350, 172, 600, 322), payload={"thumbnail": "a.jpg"}),
        Observation(kind="speech", source_id="cam", start=15.1, end=22.4, text="And so my fellow Americans"),
    ], progress=("cam", 22.0))
    assert len(ids) == 2
    assert s.source_progress("cam") == (22.0, "new")
    hit = s.search_text("priority")
    assert [o.id for o in hit] == [ids[0]] and hit[0].box == (350, 172, 600, 322)
    assert s.search_text("americans")[0].kind == "speech"
    assert [o.kind for o in s.observations(since=16, until=17)] == ["text", "speech"]
    # updates keep the FTS index in sync
    o = s.get_observation(ids[0])
    assert o is not None
    from dataclasses import replace

    s.commit_batch([], updates=[replace(o, text="EXPRESS MAIL", end=25.0)])
    assert s.search_text("priority") == [] and s.search_text("express")[0].end == 25.0
    s.close()


@pytest.mark.parametrize("query", ['"', "*", "NEAR", 'a" OR 1=1 --', "title:x", "✓ ünïcödé 漢字", "", "x" * 10000,
                                   "DROP TABLE observations;"])
def test_fts_is_injection_safe(store_target: str | Path, query: str) -> None:
    s = _store(store_target)
    s.add_observations([Observation(kind="text", source_id="cam", start=0, end=1, text="hello NEAR world")])
    s.search_text(query)  # never raises
    assert s.count() == 1
    assert all(part.endswith('"*') for part in fts_query(query).split(" OR ") if part)


def test_events_roundtrip(store_target: str | Path) -> None:
    s = _store(store_target)
    eid = s.add_event(Event(rule="doorbell", source_id="cam", start=12.0, end=12.5, observation_ids=(1, 2),
                            title="Doorbell", severity="warning"))
    ev = s.events()[0]
    assert ev.id == eid and ev.observation_ids == (1, 2) and ev.severity == "warning"


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _store(path).close()
    with sqlite3.connect(path) as c:
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    with pytest.raises(StoreError, match="newer than this scenewatch"):
        TimelineStore(path)
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5
        assert c.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1


def test_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(StoreError, match="cannot create timeline database"):
        TimelineStore(blocker / "t.db")
    notdb = tmp_path / "junk.db"
    notdb.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open timeline database"):
        TimelineStore(notdb)


def test_one_writer_many_readers(store_target: str | Path) -> None:
    s = _store(store_target)
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        r = open_store(store_target, readonly=True)
        while not stop.is_set():
            seen.append(r.count())
        r.close()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(200):
        s.commit_batch([Observation(kind="motion", source_id="cam", start=i, end=i + 1)], progress=("cam", i))
    stop.set()
    for t in readers:
        t.join()
    assert s.count() == 200 and seen and max(seen) <= 200
    assert seen == sorted(seen) or all(x <= 200 for x in seen)


def test_readonly_missing_db(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no timeline database"):
        TimelineStore(tmp_path / "nope.db", readonly=True)


def test_many_openers_of_a_new_database_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        try:
            start.wait()
            TimelineStore(path).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with TimelineStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
