"""Hybrid search over everything perceived: FTS5 keywords + vector similarity, fused by rank.

Two ranked lists — BM25 over labels and text (exact words, OCR strings, names) and cosine
similarity of embeddings (paraphrases: "courier" finds "delivery man") — are fused with
reciprocal rank fusion (``Σ 1 / (60 + rank)``), so neither score scale has to be calibrated.
Hits of the same thing close in time (one tracked object on many keyframes, one OCR label
read every half second) are merged into one :class:`Moment` spanning them.

Any query text is safe: keywords are quoted by :func:`~scenewatch.memory.store.fts_query`
and values are bound parameters, so FTS operators or SQL in the input are plain words.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore, fts_query
from scenewatch.memory.vectors import VectorIndex

if TYPE_CHECKING:
    from scenewatch.config import Config
    from scenewatch.perception.embed import Embedder

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000  # longer input is cut: no query needs more, and it bounds tokenizer work
RRF_K = 60

# Words that say nothing about *what* happened; dropped from the keyword side only.
_STOPWORD_TEXT = (
    "a an and are as at be been but by can did do does for from had has have he her his how i if in "
    "into is it its me my of on or our she so that the their them then there these they this to "
    "was we were what when where which while who why will with you your any anyone anything "
    "someone something somebody show find me please"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Which observations a search may return.

    Attributes:
        source_id: only this source.
        kinds: only these kinds (``speech``, ``text``, ``object``, ``sound``…).
        since: the span must end at or after this media time (seconds).
        until: the span must start at or before this media time (seconds).
        min_confidence: drop observations under this confidence.
    """

    source_id: str | None = None
    kinds: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    min_confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class Moment:
    """A place on a source's timeline that answers a search.

    Attributes:
        source_id: the source.
        start: media time the moment begins (seconds).
        end: media time it ends.
        kind: observation kind (``speech``, ``text``, ``object``, ``sound``…).
        snippet: the words or label that matched.
        thumbnail: path of a thumbnail (relative to the media dir), if one was written.
        score: fused relevance (higher is better; reciprocal-rank units).
        observation_id: the best-matching observation (cite this one).
        label: the observation's label.
        wall_start: Unix time of ``start`` for live sources.
        observation_ids: every observation merged into this moment.
        matched_by: ``("keyword",)``, ``("vector",)`` or both.
    """

    source_id: str
    start: float
    end: float
    kind: str
    snippet: str
    thumbnail: str | None
    score: float
    observation_id: int
    label: str = ""
    wall_start: float | None = None
    observation_ids: tuple[int, ...] = ()
    matched_by: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["observation_ids"] = list(self.observation_ids)
        data["matched_by"] = list(self.matched_by)
        return data


@dataclass(slots=True)
class _Row:
    id: int
    source_id: str
    kind: str
    start: float
    end: float
    wall_start: float | None
    label: str
    text: str
    track_id: int | None
    payload: dict[str, Any]


def keyword_query(text: str) -> str:
    """The FTS5 MATCH expression for free text (stopwords dropped unless nothing else is left)."""
    words = list(dict.fromkeys(re.findall(r"\w+", text.lower())))
    content = [w for w in words if w not in STOPWORDS]
    return fts_query(" ".join(content or words))


def _filter_sql(filters: SearchFilters, alias: str = "o") -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.source_id is not None:
        where.append(f"{alias}.source_id = ?")
        params.append(filters.source_id)
    if filters.kinds:
        where.append(f"{alias}.kind IN ({','.join('?' * len(filters.kinds))})")
        params.extend(filters.kinds)
    if filters.since is not None:
        where.append(f'{alias}."end" >= ?')
        params.append(float(filters.since))
    if filters.until is not None:
        where.append(f"{alias}.start <= ?")
        params.append(float(filters.until))
    if filters.min_confidence > 0:
        where.append(f"{alias}.confidence >= ?")
        params.append(float(filters.min_confidence))
    return "".join(" AND " + w for w in where), params


def keyword_hits(store: TimelineStore, query: str, filters: SearchFilters, k: int = 50) -> list[int]:
    """Observation ids matching ``query``'s words, BM25 best first."""
    match = keyword_query(query[:MAX_QUERY_CHARS])
    if not match:
        return []
    extra, params = _filter_sql(filters)
    rows = store.execute(
        "SELECT o.id FROM observations_fts f JOIN observations o ON o.id = f.rowid "
        f"WHERE observations_fts MATCH ?{extra} ORDER BY bm25(observations_fts) LIMIT ?",
        [match, *params, int(k)],
    )
    return [int(r[0]) for r in rows]


def vector_hits(store: TimelineStore, query: str, embedder: Embedder, filters: SearchFilters,
                k: int = 50, min_score: float = 0.15) -> list[int]:
    """Observation ids whose embedding is closest to ``query``'s, best first."""
    index = VectorIndex.for_store(store)
    index.check_model(embedder.model_name, embedder.dim)
    if not query.strip():
        return []
    vec = embedder.embed_texts([query[:MAX_QUERY_CHARS]])[0]
    hits = index.search(vec, k, source_id=filters.source_id, kinds=filters.kinds or None,
                        since=filters.since, until=filters.until)
    return [h.observation_id for h in hits if h.score >= min_score]


def _load_rows(store: TimelineStore, ids: Sequence[int], min_confidence: float) -> dict[int, _Row]:
    if not ids:
        return {}
    rows = store.execute(
        'SELECT id, source_id, kind, start, "end", wall_start, label, text, track_id, payload '
        f"FROM observations WHERE id IN ({','.join('?' * len(ids))}) AND confidence >= ?",
        [*ids, min_confidence],
    )
    return {int(r[0]): _Row(int(r[0]), r[1], r[2], float(r[3]), float(r[4]), r[5], r[6], r[7], r[8],
                            json.loads(r[9] or "{}")) for r in rows}


def _merge_key(row: _Row) -> tuple[Any, ...]:
    if row.track_id is not None:
        return (row.source_id, row.kind, "track", row.track_id)
    return (row.source_id, row.kind, row.label.lower(), " ".join(row.text.lower().split()))


def _snippet(row: _Row, limit: int = 200) -> str:
    text = " ".join(row.text.split())
    if text.lower() == row.label.lower():
        text = row.label  # stages that copy the label into the text: say it once
    elif row.kind not in ("speech", "text") and row.label:
        text = f"{row.label}: {text}" if text else row.label
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _thumbnail(payload: dict[str, Any]) -> str | None:
    value = payload.get("thumbnail") or payload.get("thumbnail_path")
    return str(value) if value else None


def search(
    store: TimelineStore,
    query: str,
    *,
    embedder: Embedder | None = None,
    filters: SearchFilters | None = None,
    limit: int = 10,
    merge_gap: float = 5.0,
) -> list[Moment]:
    """Find the moments that match ``query``, best first.

    Args:
        store: the timeline.
        query: free text; any input is safe (empty gives no results).
        embedder: adds the vector side when given (must match the index's model).
        filters: source, kinds, time range, confidence.
        limit: at most this many moments.
        merge_gap: hits of the same thing (track, or same label and text) less than this many
            seconds apart become one moment.

    Returns:
        Moments sorted by fused score.

    Raises:
        EmbeddingModelMismatch: ``embedder`` is not the model the index was built with.
    """
    filters = filters or SearchFilters()
    query = str(query)[:MAX_QUERY_CHARS]
    if not query.strip() or limit <= 0:
        return []
    candidates = max(50, 5 * limit)
    ranked: dict[str, list[int]] = {"keyword": keyword_hits(store, query, filters, candidates)}
    if embedder is not None:
        ranked["vector"] = vector_hits(store, query, embedder, filters, candidates)
    fused: dict[int, float] = {}
    matched: dict[int, set[str]] = {}
    for name, ids in ranked.items():
        for rank, oid in enumerate(ids, start=1):
            fused[oid] = fused.get(oid, 0.0) + 1.0 / (RRF_K + rank)
            matched.setdefault(oid, set()).add(name)
    rows = _load_rows(store, list(fused), filters.min_confidence)
    groups: list[list[_Row]] = []
    by_key: dict[tuple[Any, ...], list[_Row]] = {}
    for row in rows.values():
        by_key.setdefault(_merge_key(row), []).append(row)
    for members in by_key.values():
        members.sort(key=lambda r: (r.start, r.id))
        current = [members[0]]
        for row in members[1:]:
            if row.start <= max(r.end for r in current) + merge_gap:
                current.append(row)
            else:
                groups.append(current)
                current = [row]
        groups.append(current)

    out: list[Moment] = []
    for group in groups:
        best = max(group, key=lambda r: (fused[r.id], -r.start))
        out.append(Moment(
            source_id=best.source_id, start=min(r.start for r in group), end=max(r.end for r in group),
            kind=best.kind, snippet=_snippet(best), thumbnail=_thumbnail(best.payload),
            score=round(fused[best.id], 6), observation_id=best.id, label=best.label,
            wall_start=best.wall_start, observation_ids=tuple(sorted(r.id for r in group)),
            matched_by=tuple(sorted(set().union(*(matched[r.id] for r in group)))),
        ))
    out.sort(key=lambda m: (-m.score, m.start, m.observation_id))
    out = out[:limit]
    return out


def parse_media_time(value: str | float | None) -> float | None:
    """Seconds from ``"95"``, ``"95.5"``, ``"1:35"`` or ``"0:01:35"`` (media time); ``None`` stays ``None``.

    Raises:
        ScenewatchError: the value is not a time.
    """
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    parts = value.strip().split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 3 or any(n < 0 or n != n for n in numbers):
        raise ScenewatchError(f"not a media time: {value!r} (use seconds, mm:ss or hh:mm:ss)")
    seconds = 0.0
    for n in numbers:
        seconds = seconds * 60 + n
    return seconds


def search_with_config(
    config: Config,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = 10,
    use_vectors: bool = True,
) -> list[Moment]:
    """Search the configured store, adding vectors when the index and embedder allow it.

    Keyword search always runs; the vector side is used when the index holds vectors of the
    configured embedder. A missing embedder extra only logs a warning.

    Raises:
        EmbeddingModelMismatch: the index was built with another model (run ``scenewatch reembed``).
    """
    from scenewatch.errors import BackendUnavailable
    from scenewatch.memory.vectors import build_embedder

    with TimelineStore(config.store.path, readonly=True) as store:
        embedder = None
        if use_vectors and VectorIndex.for_store(store).model() is not None:
            try:
                embedder = build_embedder(config.perception.embed)
            except BackendUnavailable as exc:
                log.warning("searching by keywords only: %s", exc)
        return search(store, query, embedder=embedder, filters=filters, limit=limit)
