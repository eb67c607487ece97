"""The vector index in PostgreSQL: a pgvector column with an HNSW index (cosine).

Same contract as :class:`scenewatch.memory.vectors.VectorIndex` (one vector per observation,
deleted with it and when its words change, the model recorded in ``vector_meta``); what differs
is where nearest neighbours are found:

- the column gets its dimension when the first vectors arrive (pgvector indexes only
  fixed-dimension columns) and its HNSW index (``vector_cosine_ops``) once it holds more than
  :data:`EXACT_ROWS` vectors (below that a scan is as fast and exact; inserting into HNSW costs
  milliseconds per row); :meth:`clear` drops both;
- a query with filters (source, kinds, time), or over at most :data:`EXACT_ROWS` vectors, is
  answered exactly (a scan: HNSW with a ``WHERE`` filters *after* the approximate search and can
  return too few rows); ties are broken by observation id, as the SQLite index does;
- an unfiltered query over a larger index walks the HNSW graph with ``hnsw.ef_search`` at
  least twice ``k`` (approximate: recall, not exactness, is what it trades for speed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.memory.vectors import EmbeddingModelMismatch, VectorHit, VectorIndex

if TYPE_CHECKING:
    from scenewatch.memory.postgres import PostgresStore

EXACT_ROWS = 20_000
"""Up to this many vectors a search is an exact scan (a few milliseconds), beyond it HNSW."""
_SETUP_LOCK = 0x5CE1F  # advisory lock key of typing the column and building the index


class PgVectorIndex(VectorIndex):
    """pgvector-backed index of one :class:`~scenewatch.memory.postgres.PostgresStore`."""

    store: PostgresStore

    def add(self, ids: Sequence[int], vectors: NDArray[np.float32], model_name: str) -> None:
        """Store vectors for observations (replacing older ones) under ``model_name``.

        Raises:
            EmbeddingModelMismatch: the index holds another model's vectors.
            ValueError: shapes do not match.
        """
        dim = self._checked_dim(ids, vectors, model_name)
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.store.native() as conn:
            self._ensure_column(conn, dim)
            conn.execute("INSERT INTO vector_meta(key, value) VALUES ('model', %s), ('dim', %s) "
                         "ON CONFLICT (key) DO NOTHING", (model_name, str(dim)))
            recorded = dict(conn.execute("SELECT key, value FROM vector_meta WHERE key IN ('model', 'dim')")
                            .fetchall())
            if (recorded.get("model"), recorded.get("dim")) != (model_name, str(dim)):  # another writer won
                raise EmbeddingModelMismatch(
                    f"the vector index holds {recorded.get('model')} ({recorded.get('dim')}-d) vectors, not "
                    f"{model_name} ({dim}-d); run `scenewatch reembed` to rebuild it with the configured embedder")
            with conn.cursor() as cur:
                # An observation deleted meanwhile has no parent row: skip it instead of failing the batch.
                cur.executemany(
                    "INSERT INTO observation_vectors(observation_id, vector) SELECT %s, %s "
                    "WHERE EXISTS (SELECT 1 FROM observations WHERE id = %s) "
                    "ON CONFLICT (observation_id) DO UPDATE SET vector = excluded.vector",
                    [(int(i), vecs[n], int(i)) for n, i in enumerate(ids)],
                )
            if not self._indexed and self._over_exact(conn):
                self._build_index(conn)

    def clear(self) -> None:
        """Drop every vector, the recorded model, and the column's dimension and HNSW index."""
        with self.store.native() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            conn.execute("DROP INDEX IF EXISTS observation_vectors_hnsw")
            conn.execute("DELETE FROM observation_vectors")
            conn.execute("ALTER TABLE observation_vectors ALTER COLUMN vector TYPE vector")
            conn.execute("DELETE FROM vector_meta WHERE key IN ('model', 'dim')")
        self._indexed = False

    def vectors(self, observation_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        """Stored vectors of these observations (missing ones are left out)."""
        if not observation_ids:
            return {}
        with self.store.native() as conn:
            rows = conn.execute("SELECT observation_id, vector FROM observation_vectors "
                                "WHERE observation_id = ANY(%s)", ([int(i) for i in observation_ids],)).fetchall()
        return {int(oid): np.asarray(vec.to_numpy() if hasattr(vec, "to_numpy") else vec, dtype=np.float32)
                for oid, vec in rows}

    def search(
        self,
        query: NDArray[np.float32],
        k: int = 50,
        *,
        source_id: str | None = None,
        kinds: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[VectorHit]:
        """The ``k`` observations most similar to ``query`` (cosine), best first, filtered."""
        recorded = self.model()
        if recorded is None or k <= 0:
            return []
        if query.shape != (recorded[1],):
            raise EmbeddingModelMismatch(
                f"query vector has dimension {query.shape}, the index holds {recorded[1]}-d vectors")
        q = np.ascontiguousarray(query, dtype=np.float32)
        where, params = _filters(source_id, kinds, since, until)
        with self.store.native() as conn:
            exact = bool(where) or conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM observation_vectors LIMIT %s) t", (EXACT_ROWS + 1,)
            ).fetchone()[0] <= EXACT_ROWS
            if exact:
                conn.execute("SET LOCAL enable_indexscan = off")
                rows = conn.execute(
                    "SELECT v.observation_id, v.vector <=> %s AS d FROM observation_vectors v "
                    f"JOIN observations o ON o.id = v.observation_id WHERE true{where} "
                    "ORDER BY d, v.observation_id LIMIT %s", (q, *params, int(k))).fetchall()
            else:
                conn.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(40, 2 * int(k)))}")
                rows = conn.execute(
                    "SELECT observation_id, d FROM (SELECT observation_id, vector <=> %s AS d "
                    "FROM observation_vectors ORDER BY vector <=> %s LIMIT %s) t ORDER BY d, observation_id",
                    (q, q, int(k))).fetchall()
        return [VectorHit(int(oid), 1.0 - float(d)) for oid, d in rows]

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _ensure_column(conn: Any, dim: int) -> None:
        """Give the column its dimension and build the HNSW index, once (concurrent writers wait)."""
        typmod = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'observation_vectors'::regclass "
                              "AND attname = 'vector'").fetchone()[0]
        if typmod == dim:
            return
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
        typmod = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'observation_vectors'::regclass "
                              "AND attname = 'vector'").fetchone()[0]
        if typmod == dim:
            return
        if typmod > 0:
            raise EmbeddingModelMismatch(f"the vector index holds {typmod}-d vectors, not {dim}-d; "
                                         "run `scenewatch reembed`")
        conn.execute(f"ALTER TABLE observation_vectors ALTER COLUMN vector TYPE vector({int(dim)})")

    @staticmethod
    def _over_exact(conn: Any) -> bool:
        row = conn.execute("SELECT count(*) FROM (SELECT 1 FROM observation_vectors LIMIT %s) t",
                           (EXACT_ROWS + 1,)).fetchone()
        return bool(row and row[0] > EXACT_ROWS)

    def _build_index(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
        conn.execute("CREATE INDEX IF NOT EXISTS observation_vectors_hnsw ON observation_vectors "
                     "USING hnsw (vector vector_cosine_ops)")
        self._indexed = True

    @property
    def _indexed(self) -> bool:
        """Whether the HNSW index exists (cached once true; :meth:`clear` drops it)."""
        if not getattr(self, "_has_index", False):
            with self.store.native() as conn:
                row = conn.execute("SELECT to_regclass('observation_vectors_hnsw') IS NOT NULL").fetchone()
            self._has_index = bool(row and row[0])
        return self._has_index

    @_indexed.setter
    def _indexed(self, value: bool) -> None:
        self._has_index = value

    def build_index(self) -> None:
        """Build the HNSW index now (bulk loaders: load every vector first, then index once)."""
        with self.store.native() as conn:
            self._build_index(conn)


def _filters(source_id: str | None, kinds: Sequence[str] | None,
             since: float | None, until: float | None) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if source_id is not None:
        where.append("o.source_id = %s")
        params.append(source_id)
    if kinds:
        where.append("o.kind = ANY(%s)")
        params.append(list(kinds))
    if since is not None:
        where.append('o."end" >= %s')
        params.append(float(since))
    if until is not None:
        where.append("o.start <= %s")
        params.append(float(until))
    return "".join(" AND " + w for w in where), params
