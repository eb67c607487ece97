"""The timeline in PostgreSQL (+ pgvector): many writers on many machines, one shared store.

:class:`PostgresStore` has every public method of the SQLite :class:`TimelineStore` and is opened
by the same factory, :func:`scenewatch.memory.backends.open_store`, from a
``postgresql://user[:password]@host:port/db`` URL. Queries written for SQLite (``store.execute``,
``store.transaction()``, here and in the rest of the package) run through the translation of
:mod:`scenewatch.memory.postgres_sql`; what cannot be translated raises one :class:`StoreError`.

Concurrency: one connection per store object, guarded by a lock as the SQLite store is, so one
store is safe to share between threads; many processes and machines write at once. Observation
rows with the same idempotent key (``source_id, ukey``) are upserted (``ON CONFLICT``) and batches
of one source take turns, so overlapping batches from different writers never duplicate or lose a
row; a deadlock that still happens rolls the batch back and is retried. Migrations take an
advisory lock, so concurrent openers of a new database migrate it once; the version lives in the
``schema_version`` table.

Keyword search is PostgreSQL's own full-text search (``tsvector`` + GIN) ranked by the same BM25
formula FTS5 uses (k1 = 1.2, b = 0.75, prefix terms, whole-table document frequencies), so both
backends rank alike (:mod:`scenewatch.memory.postgres_keywords`). Vector search is pgvector with an
HNSW index (:mod:`scenewatch.memory.postgres_vectors`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scenewatch.errors import BackendUnavailable, StoreError
from scenewatch.memory.postgres_keywords import KeywordRanker
from scenewatch.memory.postgres_schema import MIGRATIONS as PG_MIGRATIONS
from scenewatch.memory.postgres_sql import translate
from scenewatch.memory.store import (
    _INSERT_OBSERVATION,
    SCHEMA_VERSION,
    RowMeta,
    SqlConnection,
    StageProgress,
    TimelineStore,
    _payload_json,
)
from scenewatch.types import Observation

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenewatch[scale]'"
_MIGRATION_LOCK = 0x5CE1E  # advisory lock key of schema migrations
_RETRIES = 6  # deadlock / serialization retries of one batch


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def _bools_as_integers(conn: Any) -> None:
    """Bind Python booleans as 0/1, as SQLite does (flags are INTEGER columns in both schemas)."""
    from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

    class BoolText(Int8Dumper):
        def dump(self, obj: Any) -> Any:
            return super().dump(int(obj))

    class BoolBinary(Int8BinaryDumper):
        def dump(self, obj: Any) -> Any:
            return super().dump(int(obj))

    conn.adapters.register_dumper(bool, BoolText)
    conn.adapters.register_dumper(bool, BoolBinary)


class _Cursor:
    """A DB-API-like cursor over a psycopg one: ``fetchone``, ``fetchall``, ``rowcount``, ``lastrowid``."""

    def __init__(self, cur: Any, returns_id: bool) -> None:
        self._cur = cur
        self.rowcount = int(cur.rowcount)
        self.lastrowid: int | None = None
        if returns_id:
            row = cur.fetchone()
            self.lastrowid = int(row[0]) if row else None

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description and self.lastrowid is None else None

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall()) if self._cur.description and self.lastrowid is None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Connection:
    """What :meth:`PostgresStore.transaction` yields: SQLite-dialect ``execute``/``executemany``."""

    def __init__(self, conn: Any) -> None:
        self._pg = conn

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        t = translate(sql)
        return _Cursor(self._pg.execute(t.sql, tuple(parameters)), t.returns_id)

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        t = translate(sql)
        cur = self._pg.cursor()
        cur.executemany(t.sql.removesuffix(" RETURNING id"), [tuple(p) for p in parameters])
        return _Cursor(cur, False)

    @property
    def raw(self) -> Any:
        """The psycopg connection (PostgreSQL-dialect SQL, ``%s`` placeholders)."""
        return self._pg


class PostgresStore(TimelineStore):
    """The timeline in a PostgreSQL database with the pgvector extension.

    Args:
        url: ``postgresql://user[:password]@host[:port]/database``.
        readonly: open for reading only (every transaction is read-only).

    Raises:
        BackendUnavailable: psycopg / pgvector are not installed.
        StoreError: the server cannot be reached, the extension cannot be created, or the schema
            is newer than this scenewatch.
    """

    dialect = "postgresql"

    def __init__(self, url: str, readonly: bool = False) -> None:  # the SQLite store's __init__ is not run
        try:
            import psycopg
            from pgvector.psycopg import register_vector
            from psycopg.conninfo import make_conninfo
        except ImportError:
            raise BackendUnavailable(f"a PostgreSQL store needs psycopg and pgvector: {INSTALL_HINT}") from None
        self.url = url
        self.location = redact(url)
        self.path = Path(self.location)  # only ever shown, never opened
        self.readonly = readonly
        self._lock = threading.RLock()
        self._psycopg = psycopg
        self._keywords = KeywordRanker(self._read_unprepared)
        try:
            conninfo = make_conninfo(url, options="-c default_transaction_read_only=on") if readonly else url
            self._pg = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to timeline database {self.location}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None
        _bools_as_integers(self._pg)
        try:
            self._migrate()
            register_vector(self._pg)
        except psycopg.Error as exc:
            self._pg.close()
            raise StoreError(f"cannot open timeline database {self.location}: {str(exc).strip()}") from None
        except BaseException:
            self._pg.close()
            raise

    # ----------------------------------------------------------------- lifecycle
    def _version(self) -> int:
        exists = self._pg.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = self._pg.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0) if row else 0

    def _migrate(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.location} has schema v{version}, newer than this scenewatch understands "
                             f"(v{SCHEMA_VERSION}); upgrade scenewatch")
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise StoreError(f"{self.location} has schema v{version}; open it once for writing to migrate")
        for target, step in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            with self._pg.transaction():
                # Concurrent openers of a new database wait here, then find the step done.
                self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                self._pg.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                if self._version() < target:
                    self._pg.execute(step)
                    self._pg.execute("DELETE FROM schema_version")
                    self._pg.execute("INSERT INTO schema_version(version) VALUES (%s)", (target,))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._pg.close()

    def __enter__(self) -> PostgresStore:
        return self

    @property
    def schema_version(self) -> int:
        """Current schema version of the open database."""
        with self._lock:
            return self._version()

    @contextmanager
    def transaction(self) -> Iterator[SqlConnection]:
        """One atomic write: everything inside commits together or not at all."""
        with self._lock:
            try:
                with self._pg.transaction():
                    yield _Connection(self._pg)
            except (self._psycopg.errors.DeadlockDetected, self._psycopg.errors.SerializationFailure):
                raise  # the caller may retry the whole transaction
            except self._psycopg.errors.ReadOnlySqlTransaction:
                raise StoreError(f"timeline database {self.location} is open read-only") from None
            except self._psycopg.OperationalError as exc:
                raise StoreError(f"cannot write timeline database {self.location}: {exc}") from None

    @contextmanager
    def native(self) -> Iterator[Any]:
        """A transaction on the psycopg connection itself (PostgreSQL dialect, ``%s`` placeholders, numpy
        arrays bind as ``vector``): for the pgvector index and bulk loads."""
        with self._lock, self._pg.transaction():
            yield self._pg

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (SQLite dialect, ``?`` placeholders) and return all rows."""
        t = translate(sql)
        with self._lock:
            try:
                cur = self._pg.execute(t.sql, tuple(params))
            except self._psycopg.OperationalError as exc:
                raise StoreError(f"cannot read timeline database {self.location}: {str(exc).strip()}") from None
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def _serialize(self, conn: SqlConnection, key: str) -> None:
        """Writers of the same key (a source's lock) take turns: a transaction-scoped advisory lock."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

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
        """Insert, update and advance progress atomically (see :meth:`TimelineStore.commit_batch`).

        Batches that write the same source take turns (a transaction-scoped advisory lock per
        source), so overlapping idempotent keys from concurrent writers upsert one after the other
        instead of deadlocking; rows still get ids in the order given, as in SQLite. A deadlock that
        happens anyway (with other statements) rolls the batch back and retries it.
        """
        obs, ups = list(observations), list(updates)
        sources = sorted({o.source_id for o in obs} | ({progress[0]} if progress else set()))
        for attempt in range(_RETRIES):
            try:
                with self.transaction() as c:
                    for source_id in sources:
                        self._serialize(c, f"source_rows:{source_id}")
                    return super().commit_batch(obs, ups, progress, meta=meta, update_meta=update_meta,
                                                stages=stages)
            except (self._psycopg.errors.DeadlockDetected, self._psycopg.errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise StoreError(f"a batch kept deadlocking with other writers in {self.location}") from None
                log.debug("batch deadlocked with another writer; retrying")
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _insert_rows(self, conn: SqlConnection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """The upserts of a batch sent together (one round trip, not one per row); their ids, in order."""
        if len(rows) < 2:
            return super()._insert_rows(conn, rows)
        with self._pg.cursor() as cur:
            cur.executemany(translate(_INSERT_OBSERVATION).sql, rows, returning=True)
            ids: list[int] = []
            while True:
                row = cur.fetchone()
                if row is None:
                    raise StoreError(f"an observation upsert returned no id in {self.location}")
                ids.append(int(row[0]))
                if not cur.nextset():
                    break
        return ids

    def bulk_add_observations(self, observations: Iterable[Observation]) -> int:
        """Load many new rows fast with ``COPY`` (no idempotent keys; for archives and benchmarks)."""
        now = time.time()
        n = 0
        with self._lock, self._pg.transaction(), self._pg.cursor() as cur, cur.copy(
            'COPY observations(source_id, kind, start, "end", wall_start, label, text, confidence, box, '
            "track_id, payload, created_at) FROM STDIN"
        ) as copy:
            for o in observations:
                copy.write_row((o.source_id, o.kind, o.start, o.end, o.wall_start, o.label, o.text, o.confidence,
                                json.dumps(list(o.box)) if o.box else None, o.track_id, _payload_json(o), now))
                n += 1
        return n

    def keyword_ids(self, text: str, where: str = "", params: Sequence[Any] = (), limit: int = 20) -> list[int]:
        """Ids matching ``text``'s words as prefixes, ranked by FTS5's BM25 (:mod:`.postgres_keywords`)."""
        return self._keywords.ids(text, where, params, limit)

    def _read_unprepared(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """:meth:`execute`, never as a prepared statement: the planner sees the values (query words)."""
        t = translate(sql)
        with self._lock:
            try:
                cur = self._pg.execute(t.sql, tuple(params), prepare=False)
            except self._psycopg.OperationalError as exc:
                raise StoreError(f"cannot read timeline database {self.location}: {str(exc).strip()}") from None
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
