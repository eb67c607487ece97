"""Vector index next to the timeline: one embedding per observation, in the same SQLite file.

(A PostgreSQL store gets :class:`~scenewatch.memory.postgres_vectors.PgVectorIndex` from
:meth:`VectorIndex.for_store` instead: pgvector with an HNSW index, same methods.)

Vectors live in ``observation_vectors`` (schema v2) as little-endian float32 blobs — the
format sqlite-vec reads, so ``vec_distance_cosine(vector, ?)`` works on them wherever the
Python ``sqlite3`` module can load extensions. Rows are deleted with their observation (FK
cascade) and when its label/text changes (trigger), so every connection, including ones that
never load an extension, keeps the index consistent.

Nearest-neighbour search is exact: a float32 matrix of all vectors is cached in memory and
refreshed incrementally (rows only append, by ``AUTOINCREMENT`` id, and a trigger counts
deletions, so two O(log n) lookups tell what changed), then one matrix–vector product over the
*distinct* vectors (a label seen on 10,000 keyframes is one sentence, scored once).
That is what sqlite-vec's ``vec0`` does too (brute force), minus the per-query SQLite I/O.

The model name and dimension are recorded in ``vector_meta``; embedding with another model
raises :class:`EmbeddingModelMismatch` until :func:`reembed` rebuilds the index.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)`` callback for long work."""


class Embedder(Protocol):
    """What memory needs of an embedder: the service layer hands one in, memory never builds it.

    Any :class:`scenewatch.perception.embed.Embedder` fits (the protocol is structural).
    """

    @property
    def model_name(self) -> str:
        """Name recorded with the index's vectors."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``N×dim`` L2-normalised vectors for ``N`` texts."""
        ...


class EmbeddingModelMismatch(ScenewatchError):
    """The index was built with another embedding model (or dimension)."""


def observation_text(kind: str, label: str, text: str) -> str:
    """The sentence embedded for an observation: what it is, in words a query would use."""
    label, text = label.strip(), text.strip()
    if text.lower() == label.lower() and kind not in ("speech", "text"):
        text = ""  # stages that copy the label into the text (for keyword search) say it once
    if kind == "speech":
        return f"someone said: {text}" if text else "someone speaking"
    if kind == "text":
        return f"text reading: {text}" if text else "text"
    if kind == "sound":
        return f"sound of {label}" + (f": {text}" if text else "")
    if kind == "object":
        return f"a {label} is visible" + (f": {text}" if text else "")
    return " ".join(p for p in (f"{kind}:", label, text) if p)


@dataclass(frozen=True, slots=True)
class VectorHit:
    """One nearest neighbour: the observation and its cosine similarity to the query."""

    observation_id: int
    score: float


class VectorIndex:
    """Exact cosine search over the vectors of one store (get it with :meth:`for_store`).

    Args:
        store: the timeline store holding ``observation_vectors``.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[TimelineStore, VectorIndex]] = weakref.WeakKeyDictionary()
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: TimelineStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._reset_cache()

    @classmethod
    def for_store(cls, store: TimelineStore) -> VectorIndex:
        """The shared index of ``store`` (its cache is reused across searches)."""
        with cls._instances_lock:
            index = cls._instances.get(store)
            if index is None:
                if store.dialect == "postgresql":  # pgvector + HNSW instead of the in-memory matrix
                    from scenewatch.memory.postgres_vectors import PgVectorIndex

                    index = cls._instances[store] = PgVectorIndex(store)
                else:
                    index = cls._instances[store] = cls(store)
            return index

    # ------------------------------------------------------------------ model
    def model(self) -> tuple[str, int] | None:
        """``(model name, dimension)`` the index was built with, or ``None`` if never built."""
        rows = dict(self.store.execute("SELECT key, value FROM vector_meta WHERE key IN ('model', 'dim')"))
        if "model" not in rows:
            return None
        return str(rows["model"]), int(rows["dim"])

    def check_model(self, model_name: str, dim: int) -> None:
        """Raise :class:`EmbeddingModelMismatch` unless the index uses this model and dimension."""
        recorded = self.model()
        if recorded is not None and recorded != (model_name, dim):
            raise EmbeddingModelMismatch(
                f"the vector index holds {recorded[0]} ({recorded[1]}-d) vectors, not {model_name} ({dim}-d); "
                "run `scenewatch reembed` to rebuild it with the configured embedder"
            )

    def count(self) -> int:
        """Number of indexed observations."""
        return int(self.store.execute("SELECT COUNT(*) FROM observation_vectors")[0][0])

    # ---------------------------------------------------------------- writing
    def pending(self, limit: int = 1000) -> list[tuple[int, str, str, str]]:
        """Up to ``limit`` observations without a vector: ``(id, kind, label, text)``, oldest first."""
        return [
            (int(r[0]), str(r[1]), str(r[2]), str(r[3]))
            for r in self.store.execute(
                "SELECT o.id, o.kind, o.label, o.text FROM observations o "
                "LEFT JOIN observation_vectors v ON v.observation_id = o.id "
                "WHERE v.observation_id IS NULL ORDER BY o.id LIMIT ?",
                (int(limit),),
            )
        ]

    def add(self, ids: Sequence[int], vectors: NDArray[np.float32], model_name: str) -> None:
        """Store vectors for observations (replacing older ones) under ``model_name``.

        Raises:
            EmbeddingModelMismatch: the index holds another model's vectors.
            ValueError: shapes do not match.
        """
        dim = self._checked_dim(ids, vectors, model_name)
        blobs = np.ascontiguousarray(vectors, dtype="<f4")
        with self.store.transaction() as c:
            c.execute("INSERT OR IGNORE INTO vector_meta(key, value) VALUES ('model', ?)", (model_name,))
            c.execute("INSERT OR IGNORE INTO vector_meta(key, value) VALUES ('dim', ?)", (str(dim),))
            c.executemany("DELETE FROM observation_vectors WHERE observation_id = ?", [(int(i),) for i in ids])
            # An observation deleted meanwhile has no parent row: skip it instead of failing the batch.
            c.executemany(
                "INSERT INTO observation_vectors(observation_id, vector) "
                "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM observations WHERE id = ?)",
                [(int(i), blobs[n].tobytes(), int(i)) for n, i in enumerate(ids)],
            )

    def _checked_dim(self, ids: Sequence[int], vectors: NDArray[np.float32], model_name: str) -> int:
        """The vectors' dimension, once their shape fits ``ids`` and the index takes ``model_name``."""
        if vectors.ndim != 2 or vectors.shape[0] != len(ids):
            raise ValueError(f"need one vector per id, got {vectors.shape} for {len(ids)} ids")
        dim = int(vectors.shape[1])
        self.check_model(model_name, dim)
        return dim

    def clear(self) -> None:
        """Drop every vector and the recorded model (before re-embedding with another one)."""
        with self.store.transaction() as c:
            c.execute("DELETE FROM observation_vectors")
            c.execute("DELETE FROM vector_meta WHERE key IN ('model', 'dim')")
        with self._lock:
            self._reset_cache()

    # ---------------------------------------------------------------- reading
    def vectors(self, observation_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        """Stored vectors of these observations (missing ones are left out)."""
        out: dict[int, NDArray[np.float32]] = {}
        ids = [int(i) for i in observation_ids]
        for s in range(0, len(ids), 500):
            chunk = ids[s:s + 500]
            rows = self.store.execute(
                f"SELECT observation_id, vector FROM observation_vectors "
                f"WHERE observation_id IN ({','.join('?' * len(chunk))})", chunk,
            )
            for oid, blob in rows:
                out[int(oid)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return out

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
        """The ``k`` observations most similar to ``query`` (cosine), best first, filtered.

        Args:
            query: a unit vector from the index's model.
            k: how many hits.
            source_id: only this source.
            kinds: only these observation kinds.
            since: the span must end at or after this media time.
            until: the span must start at or before this media time.
        """
        with self._lock:
            self._refresh()
            if not len(self._ids) or k <= 0:
                return []
            if query.shape != (self._unique.shape[1],):
                raise EmbeddingModelMismatch(
                    f"query vector has dimension {query.shape}, the index holds {self._unique.shape[1]}-d vectors"
                )
            # Repeated sentences share one stored vector: score each distinct vector once.
            scores = (self._unique @ query.astype(np.float32))[self._uidx]
            mask = self._mask(source_id, kinds, since, until)
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            n = min(k, int(np.isfinite(scores).sum()))
            if n == 0:
                return []
            # Every row tied with the n-th best competes, and ties go to the lower observation id
            # (as in the PostgreSQL index), so the same rows give the same hits in any order.
            kth = scores[np.argpartition(-scores, n - 1)[n - 1]]
            cand = np.flatnonzero(scores >= kth)
            top = cand[np.lexsort((self._ids[cand], -scores[cand]))][:n]
            return [VectorHit(int(self._ids[i]), float(scores[i])) for i in top]

    # ------------------------------------------------------------------ cache
    def _reset_cache(self) -> None:
        self._last_id = 0
        self._deletions = -1
        self._row_ids = np.zeros(0, np.int64)  # observation_vectors.id (append-only)
        self._ids = np.zeros(0, np.int64)  # observation ids
        self._uidx = np.zeros(0, np.int64)  # row → distinct vector
        self._unique = np.zeros((0, 0), np.float32)
        self._unique_keys: dict[bytes, int] = {}
        self._kinds = np.zeros(0, np.int16)
        self._sources = np.zeros(0, np.int32)
        self._starts = np.zeros(0, np.float64)
        self._ends = np.zeros(0, np.float64)
        self._kind_codes: dict[str, int] = {}
        self._source_codes: dict[str, int] = {}

    def _refresh(self) -> None:
        """Catch up with the table: drop deleted rows, append new ones (both cheap checks)."""
        max_id, deletions = self.store.execute(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM observation_vectors), "
            "(SELECT value FROM vector_meta WHERE key = 'deletions')")[0]
        deletions = int(deletions or 0)
        if deletions != self._deletions:
            if len(self._row_ids):
                present = np.array([r[0] for r in self.store.execute(
                    "SELECT id FROM observation_vectors")],  # a covering-index scan, not the blobs
                    np.int64)
                keep = np.isin(self._row_ids, present)
                if not keep.any():
                    self._reset_cache()
                elif not keep.all():
                    for name in ("_row_ids", "_ids", "_uidx", "_kinds", "_sources", "_starts", "_ends"):
                        setattr(self, name, getattr(self, name)[keep])
            self._deletions = deletions
        if max_id > self._last_id:
            self._load_after(self._last_id)

    def _load_after(self, last_id: int) -> None:
        rows = self.store.execute(
            'SELECT v.id, v.observation_id, v.vector, o.kind, o.source_id, o.start, o."end" '
            "FROM observation_vectors v JOIN observations o ON o.id = v.observation_id "
            "WHERE v.id > ? ORDER BY v.id", (last_id,),
        )
        if not rows:
            return
        dim = len(rows[0][2]) // 4
        if self._unique.size and self._unique.shape[1] != dim:
            raise EmbeddingModelMismatch("the vector index mixes dimensions; run `scenewatch reembed`")
        uidx = np.empty(len(rows), np.int64)
        fresh: list[bytes] = []
        for n, r in enumerate(rows):
            slot = self._unique_keys.get(r[2])
            if slot is None:
                slot = self._unique_keys[r[2]] = len(self._unique_keys)
                fresh.append(r[2])
            uidx[n] = slot
        if fresh:
            new = np.frombuffer(b"".join(fresh), dtype="<f4").reshape(len(fresh), dim).astype(np.float32)
            self._unique = np.concatenate([self._unique.reshape(-1, dim), new])
        self._uidx = np.concatenate([self._uidx, uidx])
        self._row_ids = np.concatenate([self._row_ids, np.array([r[0] for r in rows], np.int64)])
        self._ids = np.concatenate([self._ids, np.array([r[1] for r in rows], np.int64)])
        self._kinds = np.concatenate([self._kinds, np.array(
            [self._kind_codes.setdefault(r[3], len(self._kind_codes)) for r in rows], np.int16)])
        self._sources = np.concatenate([self._sources, np.array(
            [self._source_codes.setdefault(r[4], len(self._source_codes)) for r in rows], np.int32)])
        self._starts = np.concatenate([self._starts, np.array([r[5] for r in rows], np.float64)])
        self._ends = np.concatenate([self._ends, np.array([r[6] for r in rows], np.float64)])
        self._last_id = int(rows[-1][0])

    def _mask(self, source_id: str | None, kinds: Sequence[str] | None,
              since: float | None, until: float | None) -> NDArray[np.bool_] | None:
        mask: NDArray[np.bool_] | None = None

        def both(m: NDArray[np.bool_]) -> NDArray[np.bool_]:
            return m if mask is None else mask & m

        if source_id is not None:
            mask = both(self._sources == self._source_codes.get(source_id, -1))
        if kinds:
            codes = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
            mask = both(np.isin(self._kinds, np.array(codes, np.int16)))
        if since is not None:
            mask = both(self._ends >= since)
        if until is not None:
            mask = both(self._starts <= until)
        return mask


def index_pending(
    store: TimelineStore,
    embedder: Embedder,
    *,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> int:
    """Embed every observation that has no vector yet (call after each ingest batch).

    Identical sentences (the same object label on many keyframes) are embedded once.

    Args:
        store: the timeline.
        embedder: any :class:`Embedder` (handed in by the service layer).
        batch_size: observations per embedding call and transaction.
        progress: ``progress(done, total)`` after each batch.

    Returns:
        How many observations were embedded.

    Raises:
        EmbeddingModelMismatch: the index holds another model's vectors (run :func:`reembed`).
    """
    index = VectorIndex.for_store(store)
    index.check_model(embedder.model_name, embedder.dim)
    total = int(store.execute(
        "SELECT COUNT(*) FROM observations o LEFT JOIN observation_vectors v ON v.observation_id = o.id "
        "WHERE v.observation_id IS NULL")[0][0])
    done = 0
    cache: dict[str, NDArray[np.float32]] = {}
    while True:
        rows = index.pending(limit=batch_size)
        if not rows:
            break
        sentences = [observation_text(kind, label, text) for _, kind, label, text in rows]
        missing = sorted({s for s in sentences if s not in cache})
        if missing:
            for sentence, vec in zip(missing, embedder.embed_texts(missing), strict=True):
                cache[sentence] = vec
            if len(cache) > 20_000:  # bounded: only repeated labels matter
                cache = {s: cache[s] for s in missing}
        index.add([r[0] for r in rows], np.stack([cache[s] for s in sentences]), embedder.model_name)
        done += len(rows)
        if progress is not None:
            progress(done, max(total, done))
        if len(rows) < batch_size:
            break
    if done:
        log.info("embedded %d observations with %s", done, embedder.model_name)
    return done


def reembed(store: TimelineStore, embedder: Embedder, *, progress: Progress | None = None) -> int:
    """Drop the vector index and embed every observation again with ``embedder``.

    Returns:
        How many observations were embedded.
    """
    index = VectorIndex.for_store(store)
    previous = index.model()
    index.clear()
    log.info("re-embedding with %s (was %s)", embedder.model_name, previous[0] if previous else "empty")
    return index_pending(store, embedder, progress=progress)
