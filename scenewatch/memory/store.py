"""The timeline store: SQLite in WAL mode, one writer and many readers.

Tables: ``sources`` (what was ingested and how far), ``observations`` (one row per thing
perceived over a time span, FTS5-indexed), ``events`` (fired triggers) and ``outbox``
(actions waiting for delivery). The schema version lives in ``PRAGMA user_version``;
migrations run forward in one transaction each, and a database from a newer scenewatch is
refused rather than touched.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from scenewatch.errors import StoreError
from scenewatch.payloads import Payload, parse_payload
from scenewatch.types import Event, Observation, SourceInfo

SCHEMA_V1 = """
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    kind TEXT NOT NULL,
    info TEXT NOT NULL DEFAULT '{}',
    processed_until REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new',
    error TEXT,
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    wall_start REAL,
    label TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    confidence REAL NOT NULL DEFAULT 1,
    box TEXT,
    track_id INTEGER,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE INDEX observations_time ON observations(source_id, start);
CREATE INDEX observations_kind ON observations(kind, label);
CREATE VIRTUAL TABLE observations_fts USING fts5(
    label, text, content='observations', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER observations_ai AFTER INSERT ON observations BEGIN
    INSERT INTO observations_fts(rowid, label, text) VALUES (new.id, new.label, new.text);
END;
CREATE TRIGGER observations_ad AFTER DELETE ON observations BEGIN
    INSERT INTO observations_fts(observations_fts, rowid, label, text)
    VALUES ('delete', old.id, old.label, old.text);
END;
CREATE TRIGGER observations_au AFTER UPDATE OF label, text ON observations BEGIN
    INSERT INTO observations_fts(observations_fts, rowid, label, text)
    VALUES ('delete', old.id, old.label, old.text);
    INSERT INTO observations_fts(rowid, label, text) VALUES (new.id, new.label, new.text);
END;
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    source_id TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    wall_time REAL,
    observation_ids TEXT NOT NULL DEFAULT '[]',
    title TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT 'info',
    payload TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE INDEX events_time ON events(source_id, start);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    delivered_at REAL,
    last_error TEXT,
    UNIQUE(event_id, action, target)
);
"""

# Vector index (memory/vectors.py): one float32 vector per observation, deleted with it (FK
# cascade) and when its label/text changes, so the index can never describe a row it no longer matches.
# Rows only ever append (AUTOINCREMENT) and deletions are counted, so an in-memory cache can tell
# cheaply what changed.
SCHEMA_V2_VECTORS = """
CREATE TABLE vector_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE observation_vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    observation_id INTEGER NOT NULL UNIQUE REFERENCES observations(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TRIGGER observation_vectors_stale AFTER UPDATE OF label, text ON observations
WHEN old.label IS NOT new.label OR old.text IS NOT new.text BEGIN
    DELETE FROM observation_vectors WHERE observation_id = old.id;
END;
INSERT INTO vector_meta(key, value) VALUES ('deletions', '0');
CREATE TRIGGER observation_vectors_deleted AFTER DELETE ON observation_vectors BEGIN
    UPDATE vector_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'deletions';
END;
"""

# Review of what was perceived (training/reviews.py): a verdict and optional corrections stored
# beside the original row, which is never changed. ``original`` keeps a JSON snapshot of what was
# reviewed (an answer has no row of its own), so a review stays meaningful after re-ingest.
SCHEMA_REVIEWS = """
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL CHECK (target IN ('event', 'observation', 'answer')),
    target_id INTEGER,
    source_id TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'corrected')),
    label TEXT,
    start REAL,
    "end" REAL,
    box TEXT,
    text TEXT,
    question TEXT,
    original TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX reviews_target ON reviews(target, target_id);
"""

# Serving (runtime/server.py, runtime/queries.py): hashed API tokens, the admin password hash,
# the review state of events, sources added at run time, and which MQTT messages the broker acknowledged.
SCHEMA_SERVING = """
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL,
    revoked_at REAL
);
CREATE TABLE serve_secrets (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE event_reviews (
    event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'new',
    false_positive INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE TABLE served_sources (
    uri TEXT PRIMARY KEY,
    added_at REAL NOT NULL
);
CREATE TABLE mqtt_published (
    key TEXT PRIMARY KEY,
    published_at REAL NOT NULL
);
"""

# Crash-safe resume (runtime/pipeline.py): progress per (source, stage); rows carry the stage that
# made them, an idempotent key (a re-run upserts instead of inserting) and whether their span was
# still open when committed (continued on resume, not split); a lease lock refuses a second writer;
# events get an idempotent key (trigger state is rebuilt from the stored rows on resume).
SCHEMA_RESUME = """
ALTER TABLE sources ADD COLUMN fingerprint TEXT;
ALTER TABLE observations ADD COLUMN stage TEXT;
ALTER TABLE observations ADD COLUMN ukey TEXT;
ALTER TABLE observations ADD COLUMN open INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX observations_ukey ON observations(source_id, ukey);
CREATE INDEX observations_stage ON observations(source_id, stage, start);
CREATE TABLE stage_progress (
    source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    processed_until REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new',
    updated_at REAL NOT NULL,
    PRIMARY KEY (source_id, stage)
);
CREATE TABLE source_locks (
    source_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
ALTER TABLE events ADD COLUMN ukey TEXT;
CREATE UNIQUE INDEX events_ukey ON events(ukey);
"""

# Known faces (opt-in, biometric data, kept only in this local database): a named person or an
# unnamed cluster of unknown faces, and the face descriptors (float32 blobs) and small JPEG crops
# that define it. Deleting a person deletes its faces (``people forget``).
SCHEMA_PEOPLE = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE face_embeddings (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    crop BLOB,
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX face_embeddings_person ON face_embeddings(person_id);
"""

# Each entry upgrades the schema by one version; append, never edit a shipped one.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    SCHEMA_V1, SCHEMA_V2_VECTORS, SCHEMA_REVIEWS, SCHEMA_SERVING, SCHEMA_RESUME,
    SCHEMA_PEOPLE,
]
SCHEMA_VERSION = len(MIGRATIONS)

# A row whose idempotent key (source, ukey) is stored updates that row; RETURNING gives its id either way.
_INSERT_OBSERVATION = (
    'INSERT INTO observations(source_id, kind, start, "end", wall_start, label, text, '
    "confidence, box, track_id, payload, created_at, stage, ukey, open) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    'ON CONFLICT(source_id, ukey) DO UPDATE SET start=excluded.start, "end"=excluded."end", '
    "label=excluded.label, text=excluded.text, confidence=excluded.confidence, box=excluded.box, "
    "track_id=excluded.track_id, payload=excluded.payload, open=excluded.open RETURNING id"
)

_OBS_COLUMNS = 'id, source_id, kind, start, "end", wall_start, label, text, confidence, box, track_id, payload'


class SqlCursor(Protocol):
    """What a statement run inside :meth:`TimelineStore.transaction` gives back (a DB-API cursor)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConnection(Protocol):
    """The connection a transaction yields: SQLite's own, or PostgreSQL's translating wrapper.

    Statements are written in SQLite's dialect with ``?`` placeholders; see
    :mod:`scenewatch.memory.postgres_sql` for what the PostgreSQL store translates.
    """

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


def _row_to_observation(row: sqlite3.Row | tuple[Any, ...]) -> Observation:
    (oid, source_id, kind, start, end, wall_start, label, text, conf, box, track_id, payload) = tuple(row)
    return Observation(
        kind=kind, source_id=source_id, start=start, end=end, label=label, text=text,
        confidence=min(1.0, max(0.0, conf)), box=tuple(json.loads(box)) if box else None,
        track_id=track_id, payload=parse_payload(kind, json.loads(payload)), wall_start=wall_start, id=oid,
    )


def _payload_json(o: Observation) -> str:
    """The stored JSON of a row's payload, validated against its kind's schema.

    Raises:
        StoreError: the payload does not fit the kind (nothing of the batch is written).
    """
    # Re-validated from its fields: a payload's lists can be changed after it was built.
    data = o.payload.model_dump(warnings=False) if isinstance(o.payload, Payload) else o.payload
    try:
        return json.dumps(parse_payload(o.kind, data).to_json_dict())
    except ValueError as exc:
        raise StoreError(f"refusing to store a {o.kind} row at {o.start:.2f} s: {exc}") from None


def fts_query(text: str) -> str:
    """Quote free text into a safe FTS5 query: each word a literal prefix term, OR-ed.

    Operators (``NEAR``, ``AND``, ``*``, quotes, column filters) in the input are treated as
    plain words, so user text can never change the query's structure.
    """
    return " OR ".join('"' + w.replace('"', '""') + '"*' for w in fts_words(text))


def fts_words(text: str) -> list[str]:
    """The words of free text a keyword query searches for (each a prefix term), at most 32."""
    import re

    return re.findall(r"\w+", text.lower())[:32]


@dataclass(frozen=True, slots=True)
class RowMeta:
    """How the runner stores one row: which stage made it, its idempotent key, whether it is open.

    Attributes:
        stage: the stage that emitted the row (its progress covers it).
        ukey: unique per source; storing a row whose key exists updates that row instead.
        open: the span may still grow (a resumed run continues it instead of starting a new one).
    """

    stage: str | None = None
    ukey: str | None = None
    open: bool = False


@dataclass(frozen=True, slots=True)
class StageProgress:
    """How far one stage got on one source."""

    processed_until: float
    status: str  # new | running | done | stopped | failed


def event_key(event: Event) -> str:
    """The idempotent key of an event: rule, source and start (tenths of a second).

    A resumed or repeated run that fires the same event gets the same key, so it is stored
    once and its outbox deliveries (whose ``Idempotency-Key`` derives from it) are not repeated.
    """
    return f"{event.rule}|{event.source_id}|{event.start:.1f}"


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open for reading; on read-only media, where SQLite cannot create a WAL database's shared-memory
    file, open it as immutable instead (nothing can be writing it there)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, timeout=10)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False, timeout=10)


class TimelineStore:
    """The SQLite timeline. Safe for one writer thread and many reader connections.

    Args:
        path: database file; parent directories are created.
        readonly: open an existing database for reading only.

    Raises:
        StoreError: the file cannot be created, is not a database, or is from a newer schema.
    """

    dialect = "sqlite"
    """SQL dialect of the backend (``sqlite`` or ``postgresql``)."""

    def __init__(self, path: Path | str, readonly: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise StoreError(f"timeline database {self.path} is a directory; give a file path such as "
                             f"{self.path / 'timeline.db'}")
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"no timeline database at {self.path} (run `scenewatch watch` first)")
                self._conn = _connect_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open timeline database {self.path}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot create timeline database {self.path}: {exc.strerror or exc}") from None

    # ----------------------------------------------------------------- lifecycle
    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema v{version}, newer than this scenewatch understands "
                f"(v{SCHEMA_VERSION}); upgrade scenewatch"
            )
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise StoreError(f"{self.path} has schema v{version}; open it once for writing to migrate")
        for target, step in enumerate(MIGRATIONS[version:], start=version + 1):
            # One step per write transaction, taken before the version is read again: two processes (or
            # serve's worker threads) opening a new database at once must not both run the same step.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if int(self._conn.execute("PRAGMA user_version").fetchone()[0]) < target:
                    if isinstance(step, str):
                        for statement in _split_sql(step):
                            self._conn.execute(statement)
                    else:
                        step(self._conn)
                    self._conn.execute(f"PRAGMA user_version={target}")
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TimelineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """Current schema version of the open database."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[SqlConnection]:
        """One atomic write: everything inside commits together or not at all."""
        with self._lock:
            try:
                with self._conn:
                    yield self._conn
            except sqlite3.OperationalError as exc:
                raise StoreError(f"cannot write timeline database {self.path}: {exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows (for stages that need custom queries)."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def _serialize(self, conn: SqlConnection, key: str) -> None:
        """Make concurrent transactions on ``key`` run one after another (SQLite: the writer lock does)."""
        del conn, key

    # ------------------------------------------------------------------- sources
    def upsert_source(self, info: SourceInfo) -> None:
        """Record a source (keeps its progress if it is already known)."""
        now = time.time()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO sources(id, uri, kind, info, added_at, updated_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET uri=excluded.uri, info=excluded.info, updated_at=excluded.updated_at",
                (info.id, info.uri, info.kind, json.dumps(asdict(info)), now, now),
            )

    def get_source(self, source_id: str) -> SourceInfo | None:
        """The stored description of a source, or ``None``."""
        rows = self.execute("SELECT info FROM sources WHERE id=?", (source_id,))
        return SourceInfo(**json.loads(rows[0][0])) if rows else None

    def list_sources(self) -> list[dict[str, Any]]:
        """All sources with their status and progress (for listings)."""
        rows = self.execute(
            "SELECT id, uri, kind, status, processed_until, error, info FROM sources ORDER BY added_at"
        )
        return [
            {"id": r[0], "uri": r[1], "kind": r[2], "status": r[3], "processed_until": r[4],
             "error": r[5], "duration": json.loads(r[6]).get("duration")}
            for r in rows
        ]

    def source_progress(self, source_id: str) -> tuple[float, str]:
        """``(processed_until seconds, status)`` of a source; ``(0, 'new')`` if unknown."""
        rows = self.execute("SELECT processed_until, status FROM sources WHERE id=?", (source_id,))
        return (float(rows[0][0]), str(rows[0][1])) if rows else (0.0, "new")

    def set_source_status(self, source_id: str, status: str, error: str | None = None) -> None:
        """Mark a source ``running``, ``done``, ``failed`` or ``stopped``."""
        with self.transaction() as c:
            c.execute("UPDATE sources SET status=?, error=?, updated_at=? WHERE id=?",
                      (status, error, time.time(), source_id))

    def reset_source(self, source_id: str, after: float = 0.0) -> int:
        """Delete a source's observations starting at or after ``after`` (for re-ingest)."""
        with self.transaction() as c:
            cur = c.execute("DELETE FROM observations WHERE source_id=? AND start>=?", (source_id, after))
            c.execute("UPDATE sources SET processed_until=? WHERE id=?", (after, source_id))
            return cur.rowcount

    def stage_progress(self, source_id: str) -> dict[str, StageProgress]:
        """How far each stage got on a source (empty for a source ingested before per-stage progress)."""
        rows = self.execute("SELECT stage, processed_until, status FROM stage_progress WHERE source_id=?",
                            (source_id,))
        return {str(r[0]): StageProgress(float(r[1]), str(r[2])) for r in rows}

    def set_stage_progress(self, source_id: str, stages: Mapping[str, StageProgress],
                           processed_until: float | None = None) -> None:
        """Record stages' progress (and optionally set the source's overall watermark)."""
        now = time.time()
        with self.transaction() as c:
            for stage, sp in stages.items():
                c.execute(
                    "INSERT INTO stage_progress(source_id, stage, processed_until, status, updated_at) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(source_id, stage) DO UPDATE SET "
                    "processed_until=excluded.processed_until, status=excluded.status, updated_at=excluded.updated_at",
                    (source_id, stage, sp.processed_until, sp.status, now),
                )
            if processed_until is not None:
                c.execute("UPDATE sources SET processed_until=?, updated_at=? WHERE id=?",
                          (processed_until, now, source_id))

    def reset_stage(self, source_id: str, stage: str, after: float = 0.0) -> int:
        """Delete the rows one stage made on a source starting at or after ``after`` (resume/re-ingest)."""
        with self.transaction() as c:
            # Rows from before per-stage progress (no stage) go too, as a whole-source reset did.
            cur = c.execute("DELETE FROM observations WHERE source_id=? AND (stage=? OR stage IS NULL) AND start>=?",
                            (source_id, stage, after))
            c.execute(
                "INSERT INTO stage_progress(source_id, stage, processed_until, status, updated_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(source_id, stage) DO UPDATE SET "
                "processed_until=excluded.processed_until, updated_at=excluded.updated_at",
                (source_id, stage, after, "new", time.time()),
            )
            return cur.rowcount

    def stage_tail(self, source_id: str, stage: str, since: float) -> list[tuple[Observation, RowMeta]]:
        """Rows of one stage still open, or ending at or after ``since`` (what a resume may continue)."""
        rows = self.execute(
            f'SELECT {_OBS_COLUMNS}, stage, ukey, open FROM observations WHERE source_id=? AND stage=? '
            'AND (open=1 OR "end">=?) ORDER BY start, id', (source_id, stage, since))
        return [(_row_to_observation(r[:12]), RowMeta(r[12], r[13], bool(r[14]))) for r in rows]

    def close_open_rows(self, source_id: str, stage: str) -> None:
        """Mark every open row of a stage closed (the source ended, nothing will continue them)."""
        with self.transaction() as c:
            c.execute("UPDATE observations SET open=0 WHERE source_id=? AND stage=? AND open=1", (source_id, stage))

    def source_fingerprint(self, source_id: str) -> str | None:
        """The size/mtime fingerprint recorded when the source was last ingested."""
        rows = self.execute("SELECT fingerprint FROM sources WHERE id=?", (source_id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_source_fingerprint(self, source_id: str, fingerprint: str | None) -> None:
        """Record the file's size/mtime fingerprint (a changed file is resumed, not skipped)."""
        with self.transaction() as c:
            c.execute("UPDATE sources SET fingerprint=? WHERE id=?", (fingerprint, source_id))

    # --------------------------------------------------------------------- locks
    def acquire_source_lock(self, source_id: str, owner: str, lease: float,
                            gone: Callable[[str], bool] | None = None) -> None:
        """Become the only writer of a source for ``lease`` seconds (renew before it runs out).

        Args:
            source_id: the source.
            owner: who asks (unique per run).
            lease: seconds the lock lasts without renewal.
            gone: tells whether a holder is known to be dead (its lock is taken over at once).

        Raises:
            StoreError: another live run holds the source; a lock whose lease ran out (a crashed
                run) is taken over.
        """
        now = time.time()
        with self.transaction() as c:
            self._serialize(c, f"source_lock:{source_id}")
            row = c.execute("SELECT owner, expires FROM source_locks WHERE source_id=?", (source_id,)).fetchone()
            if row is not None and row[0] != owner and float(row[1]) > now and not (gone and gone(row[0])):
                raise StoreError(
                    f"{source_id} is being watched by another run ({row[0]}) into {self.location}; "
                    f"wait for it to finish or stop it (its lock expires {float(row[1]) - now:.0f} s after it stops)")
            c.execute("INSERT INTO source_locks(source_id, owner, expires) VALUES (?,?,?) "
                      "ON CONFLICT(source_id) DO UPDATE SET owner=excluded.owner, expires=excluded.expires",
                      (source_id, owner, now + lease))

    def renew_source_lock(self, source_id: str, owner: str, lease: float) -> None:
        """Extend a held lock."""
        with self.transaction() as c:
            c.execute("UPDATE source_locks SET expires=? WHERE source_id=? AND owner=?",
                      (time.time() + lease, source_id, owner))

    def release_source_lock(self, source_id: str, owner: str) -> None:
        """Give a lock back."""
        with self.transaction() as c:
            c.execute("DELETE FROM source_locks WHERE source_id=? AND owner=?", (source_id, owner))

    # -------------------------------------------------------------- observations
    def commit_batch(
        self,
        observations: Iterable[Observation],
        updates: Iterable[Observation] = (),
        progress: tuple[str, float] | None = None,
        *,
        meta: Sequence[RowMeta] | None = None,
        update_meta: Sequence[RowMeta] | None = None,
        stages: Mapping[str, StageProgress] | None = None,
    ) -> list[int]:
        """Insert new observations, update grown ones and advance progress atomically.

        Args:
            observations: rows to insert (their ``id`` is ignored).
            updates: rows with an ``id`` whose span/payload changed.
            progress: ``(source_id, seconds)``: everything before is fully processed.
            meta: per inserted row, its stage, idempotent key and open flag; a row whose key is
                already stored updates that row (and returns its id) instead of adding one.
            update_meta: per updated row, its open flag (and stage).
            stages: per stage of ``progress``'s source, its new watermark and status.

        Returns:
            The new row ids, in order.
        """
        now = time.time()
        obs = list(observations)
        if meta is not None and len(meta) < len(obs):
            raise ValueError(f"commit_batch: {len(meta)} meta for {len(obs)} observations")
        with self.transaction() as c:
            ids = self._insert_rows(c, [
                (o.source_id, o.kind, o.start, o.end, o.wall_start, o.label, o.text, o.confidence,
                 json.dumps(list(o.box)) if o.box else None, o.track_id, _payload_json(o), now,
                 m.stage, m.ukey, int(m.open))
                for o, m in zip(obs, meta if meta is not None else itertools.repeat(RowMeta()), strict=False)
            ])
            for i, o in enumerate(updates):
                if o.id is None:
                    raise ValueError("commit_batch: an update needs an observation id")
                um = update_meta[i] if update_meta is not None else None
                c.execute(
                    'UPDATE observations SET start=?, "end"=?, label=?, text=?, confidence=?, box=?, payload=?, '
                    "open=COALESCE(?, open) WHERE id=?",
                    (o.start, o.end, o.label, o.text, o.confidence,
                     json.dumps(list(o.box)) if o.box else None, _payload_json(o),
                     None if um is None else int(um.open), o.id),
                )
            if progress is not None:
                c.execute(
                    "UPDATE sources SET processed_until=CASE WHEN processed_until > ? THEN processed_until ELSE ? END, "
                    "updated_at=? WHERE id=?",
                    (progress[1], progress[1], now, progress[0]),
                )
                for stage, sp in (stages or {}).items():
                    c.execute(
                        "INSERT INTO stage_progress(source_id, stage, processed_until, status, updated_at) "
                        "VALUES (?,?,?,?,?) ON CONFLICT(source_id, stage) DO UPDATE SET "
                        "processed_until=excluded.processed_until, status=excluded.status, "
                        "updated_at=excluded.updated_at",
                        (progress[0], stage, sp.processed_until, sp.status, now),
                    )
        return ids

    def _insert_rows(self, conn: SqlConnection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """Upsert observation rows (in ``_INSERT_OBSERVATION``'s column order); their ids, in order."""
        return [int(conn.execute(_INSERT_OBSERVATION, row).fetchone()[0]) for row in rows]

    def add_observations(self, observations: Iterable[Observation]) -> list[int]:
        """Insert observations in one transaction and return their ids."""
        return self.commit_batch(observations)

    def bulk_add_observations(self, observations: Iterable[Observation]) -> int:
        """Load many new rows at once, without idempotent keys (archives, benchmarks); returns how many."""
        return len(self.commit_batch(observations))

    def get_observation(self, observation_id: int) -> Observation | None:
        """One observation by id."""
        rows = self.execute(f"SELECT {_OBS_COLUMNS} FROM observations WHERE id=?", (observation_id,))
        return _row_to_observation(rows[0]) if rows else None

    def observations(
        self,
        *,
        source_id: str | None = None,
        kinds: Sequence[str] | None = None,
        label: str | None = None,
        since: float | None = None,
        until: float | None = None,
        min_confidence: float = 0.0,
        limit: int | None = None,
    ) -> list[Observation]:
        """Observations overlapping ``[since, until]``, in time order, filtered.

        Args:
            source_id: only this source.
            kinds: only these kinds.
            label: only this label (case-insensitive).
            since: media time the span must end at or after.
            until: media time the span must start at or before.
            min_confidence: drop rows under this confidence.
            limit: at most this many rows.
        """
        where, params = ["confidence >= ?"], [min_confidence]
        if source_id is not None:
            where.append("source_id = ?")
            params.append(source_id)  # type: ignore[arg-type]
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)  # type: ignore[arg-type]
        if label is not None:
            where.append("lower(label) = lower(?)")
            params.append(label)  # type: ignore[arg-type]
        if since is not None:
            where.append('"end" >= ?')
            params.append(since)
        if until is not None:
            where.append("start <= ?")
            params.append(until)
        sql = f"SELECT {_OBS_COLUMNS} FROM observations WHERE {' AND '.join(where)} ORDER BY start, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_row_to_observation(r) for r in self.execute(sql, params)]

    def search_text(self, query: str, limit: int = 20, source_id: str | None = None) -> list[Observation]:
        """Keyword search over labels and text (BM25 ranked); safe for any input."""
        if source_id is None:
            ids = self.keyword_ids(query, limit=limit)
        else:
            ids = self.keyword_ids(query, " AND o.source_id = ?", [source_id], limit=limit)
        if not ids:
            return []
        rows = {int(r[0]): _row_to_observation(r) for r in self.execute(
            f"SELECT {_OBS_COLUMNS} FROM observations WHERE id IN ({','.join('?' * len(ids))})", ids)}
        return [rows[i] for i in ids if i in rows]

    def keyword_ids(self, text: str, where: str = "", params: Sequence[Any] = (), limit: int = 20) -> list[int]:
        """Ids of observations whose label or text holds a word of ``text`` (as a prefix), BM25 best first.

        Args:
            text: free text; each word is a literal prefix term, OR-ed (see :func:`fts_query`).
            where: extra ``AND …`` conditions on the observation, aliased ``o`` (``?`` placeholders).
            params: values of ``where``'s placeholders.
            limit: at most this many ids.
        """
        match = fts_query(text)
        if not match:
            return []
        rows = self.execute(
            "SELECT o.id FROM observations_fts f JOIN observations o ON o.id = f.rowid "
            f"WHERE observations_fts MATCH ?{where} ORDER BY bm25(observations_fts), o.id LIMIT ?",
            [match, *params, int(limit)])
        return [int(r[0]) for r in rows]

    def count(self, kind: str | None = None) -> int:
        """Number of observations (of one kind)."""
        if kind is None:
            return int(self.execute("SELECT COUNT(*) FROM observations")[0][0])
        return int(self.execute("SELECT COUNT(*) FROM observations WHERE kind=?", (kind,))[0][0])

    # -------------------------------------------------------------------- events
    def add_event(self, event: Event) -> int:
        """Store a fired trigger and return its id (the stored one's, if the same event is already there)."""
        with self.transaction() as c:
            key = event_key(event)
            c.execute(
                'INSERT INTO events(rule, source_id, start, "end", wall_time, observation_ids, title, summary, '
                "severity, payload, created_at, ukey) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(ukey) DO NOTHING",
                (event.rule, event.source_id, event.start, event.end, event.wall_time,
                 json.dumps(list(event.observation_ids)), event.title, event.summary, event.severity,
                 json.dumps(dict(event.payload)), time.time(), key),
            )
            return int(c.execute("SELECT id FROM events WHERE ukey=?", (key,)).fetchone()[0])

    def event_id(self, event: Event) -> int | None:
        """The id of the stored event with the same key (rule, source, start), if any."""
        rows = self.execute("SELECT id FROM events WHERE ukey=?", (event_key(event),))
        return int(rows[0][0]) if rows else None

    def events(self, source_id: str | None = None, rule: str | None = None) -> list[Event]:
        """Stored events in time order."""
        sql = ('SELECT id, rule, source_id, start, "end", wall_time, observation_ids, title, summary, '
               "severity, payload FROM events WHERE 1=1")
        params: list[Any] = []
        if source_id is not None:
            sql += " AND source_id=?"
            params.append(source_id)
        if rule is not None:
            sql += " AND rule=?"
            params.append(rule)
        rows = self.execute(sql + " ORDER BY start, id", params)
        return [
            Event(id=r[0], rule=r[1], source_id=r[2], start=r[3], end=r[4], wall_time=r[5],
                  observation_ids=tuple(json.loads(r[6])), title=r[7], summary=r[8], severity=r[9],
                  payload=json.loads(r[10]))
            for r in rows
        ]


def _split_sql(script: str) -> list[str]:
    """Split a schema script into statements (triggers contain inner semicolons)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    if current and "\n".join(current).strip():
        statements.append("\n".join(current))
    return statements
