"""SQLite-dialect statements, translated for PostgreSQL.

Code outside the store runs SQL through ``store.execute(sql, params)`` and ``store.transaction()``
written for SQLite. The PostgreSQL store runs the same text after this translation:

- ``?`` placeholders become ``%s`` (and a literal ``%`` becomes ``%%``), outside quoted strings;
- ``INSERT OR IGNORE INTO t …`` becomes ``INSERT INTO t … ON CONFLICT DO NOTHING``;
- ``json_extract(col, '$.key')`` becomes ``(col::jsonb ->> 'key')``;
- the FTS5 filter ``SELECT rowid FROM observations_fts WHERE observations_fts MATCH ?`` becomes a
  ``tsvector`` match of the same quoted-prefix query (:func:`scenewatch.memory.store.fts_query`);
- an ``INSERT`` into a table with an ``id`` column gets ``RETURNING id`` so ``cursor.lastrowid`` works.

Anything else SQLite-only (``PRAGMA``, other FTS5 use, ``INSERT OR REPLACE``) raises one
:class:`~scenewatch.errors.StoreError` naming the statement, instead of failing somewhere inside
the driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from scenewatch.errors import StoreError

# Tables whose rows get an identity ``id`` (what SQLite calls the rowid).
ID_TABLES = frozenset({"observations", "events", "outbox", "reviews", "api_tokens", "people", "face_embeddings",
                       "observation_vectors"})

_FTS_FILTER = re.compile(r"SELECT\s+rowid\s+FROM\s+observations_fts\s+WHERE\s+observations_fts\s+MATCH\s+\?",
                         re.IGNORECASE)
_JSON_EXTRACT = re.compile(r"json_extract\(\s*(\w+(?:\.\w+)?)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_SQLITE_ONLY = re.compile(r"\bPRAGMA\b|\bobservations_fts\b|\bbm25\s*\(|\bMATCH\b|\bINSERT\s+OR\s+REPLACE\b|"
                          r"\bsqlite_\w+|\bAUTOINCREMENT\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Translated:
    """A statement ready for psycopg.

    Attributes:
        sql: the PostgreSQL text (``%s`` placeholders).
        returns_id: ``RETURNING id`` was appended (the cursor's ``lastrowid`` reads it).
    """

    sql: str
    returns_id: bool


@lru_cache(maxsize=1024)
def translate(sql: str) -> Translated:
    """Translate one SQLite-dialect statement (cached: the same texts run over and over).

    Raises:
        StoreError: the statement uses a SQLite-only feature with no translation here.
    """
    text = _FTS_FILTER.sub("SELECT id FROM observations WHERE fts @@ fts5_tsquery(?)", sql)
    text = _JSON_EXTRACT.sub(r"(\1::jsonb ->> '\2')", text)
    ignore = bool(_INSERT_OR_IGNORE.match(text))
    if ignore:
        text = _INSERT_OR_IGNORE.sub("INSERT INTO", text, count=1)
    bad = _SQLITE_ONLY.search(_strip_literals(text))
    if bad:
        raise StoreError(f"SQLite-only SQL ({bad.group(0)!r}) is not supported on PostgreSQL: "
                         f"{' '.join(sql.split())[:160]}")
    text = _placeholders(text.rstrip().rstrip(";"))
    if ignore:
        text += " ON CONFLICT DO NOTHING"
    m = _INSERT_INTO.match(text)
    returns_id = bool(m and m.group(1).lower() in ID_TABLES and not re.search(r"\bRETURNING\b", text, re.I))
    if returns_id:
        text += " RETURNING id"
    return Translated(text, returns_id)


def _placeholders(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%``; quoted strings and identifiers keep their ``?``."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _strip_literals(sql: str) -> str:
    """The statement with its single-quoted strings emptied (a word inside data is not SQL)."""
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
