"""Fixtures for memory tests (helpers live in memory_corpus.py).

Store tests run against both backends: ``store_target`` is a SQLite file or the URL of a fresh
PostgreSQL database (cloned from a migrated template) on a server the session starts once
(:mod:`pg_server`). Without ``pgserver``/psycopg the PostgreSQL cases skip locally and fail under CI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenewatch.memory.backends import open_store
from scenewatch.memory.store import TimelineStore

# Test modules here import the shared corpus helpers as ``memory_corpus``; ``pg_server`` lives in tests/.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from pg_server import PgUnavailable, new_pg_database, running_server, with_database

BACKENDS = ["sqlite", "postgresql"]
_TEMPLATE = "sw_template"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Superuser URL of the session's PostgreSQL + pgvector server."""
    try:
        import pgvector  # noqa: F401
        import psycopg  # noqa: F401

        with running_server() as url:
            yield url
    except (PgUnavailable, ImportError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests need a server under CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """A migrated database that each test's database is cloned from (cheaper than migrating each)."""
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE}")
        admin.execute(f"CREATE DATABASE {_TEMPLATE}")
    open_store(with_database(pg_admin_url, _TEMPLATE)).close()
    return _TEMPLATE


@pytest.fixture
def pg_url(pg_admin_url: str, pg_template: str) -> str:
    """URL of a fresh, migrated PostgreSQL timeline database."""
    return new_pg_database(pg_admin_url, pg_template)


@pytest.fixture(params=BACKENDS)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a fresh timeline lives: a SQLite file, or a PostgreSQL database URL."""
    if request.param == "sqlite":
        return tmp_path / "timeline.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def timeline(store_target: str | Path) -> Iterator[TimelineStore]:
    with open_store(store_target) as s:
        yield s


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    minilm = pytest.importorskip("scenewatch.perception.embed.minilm")
    try:
        return minilm.MiniLMEmbedder()
    except Exception as exc:  # BackendUnavailable on installs without the weights package
        pytest.skip(f"MiniLM unavailable: {exc}")
