"""Which timeline store a target names: a SQLite file, or PostgreSQL + pgvector by URL.

The one place that knows both backends, so :mod:`scenewatch.memory.store` (SQLite) never imports
:mod:`scenewatch.memory.postgres`, which builds on it.
"""

from __future__ import annotations

from pathlib import Path

from scenewatch.memory.store import TimelineStore


def is_database_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL database (``postgresql://…``) rather than a SQLite file."""
    return isinstance(target, str) and target.split(":", 1)[0].lower() in ("postgresql", "postgres")


def open_store(target: str | Path, readonly: bool = False) -> TimelineStore:
    """Open the timeline named by ``target``: a ``postgresql://user@host:port/db`` URL or a SQLite file path.

    Args:
        target: a database URL or a file path (``config.store.target``).
        readonly: open for reading only.

    Raises:
        StoreError: the database cannot be opened or has a newer schema.
        BackendUnavailable: a URL was given but the ``scale`` extra (psycopg, pgvector) is missing.
    """
    if is_database_url(target):
        from scenewatch.memory.postgres import PostgresStore

        return PostgresStore(str(target), readonly=readonly)
    return TimelineStore(target, readonly=readonly)
