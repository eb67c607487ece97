"""Hybrid search over everything perceived: BM25 keywords + vector similarity, fused by rank.

Two ranked lists — BM25 over labels and text (exact words, OCR strings, names) and cosine
similarity of embeddings (paraphrases: "courier" finds "delivery man") — are fused with
reciprocal rank fusion (``Σ 1 / (60 + rank)``), so neither score scale has to be calibrated.
Hits of the same thing close in time (one tracked object on many keyframes, one OCR label
read every half second) are merged into one :class:`Moment` spanning them, by the one merge
of :func:`scenewatch.spans.merge_spans` (text and speech join when their words are the same).

Any query text is safe: keywords are quoted by :func:`~scenewatch.memory.store.fts_query`
and values are bound parameters, so FTS operators or SQL in the input are plain words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from scenewatch.errors import ScenewatchError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import _OBS_COLUMNS, TimelineStore, _row_to_observation, fts_query
from scenewatch.memory.vectors import VectorIndex
from scenewatch.payloads import thumbnail_of
from scenewatch.spans import merge_spans, same_text
from scenewatch.types import Observation
from scenewatch.vocabulary.time import parse_duration
from scenewatch.vocabulary.words import STOPWORDS

if TYPE_CHECKING:
    from scenewatch.config import Config
    from scenewatch.memory.vectors import Embedder

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000  # longer input is cut: no query needs more, and it bounds tokenizer work
RRF_K = 60

# STOPWORDS (words that say nothing about *what* happened) come from the vocabulary; dropped from
# the keyword side only.


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


def keyword_terms(text: str) -> str:
    """The words of free text a keyword search looks for: each once, stopwords dropped unless nothing else is left."""
    words = list(dict.fromkeys(re.findall(r"\w+", text.lower())))
    content = [w for w in words if w not in STOPWORDS]
    return " ".join(content or words)


def keyword_query(text: str) -> str:
    """The FTS5 MATCH expression for free text (stopwords dropped unless nothing else is left)."""
    return fts_query(keyword_terms(text))


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
    extra, params = _filter_sql(filters)
    return store.keyword_ids(keyword_terms(query[:MAX_QUERY_CHARS]), extra, params, int(k))


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


def _load_rows(store: TimelineStore, ids: Sequence[int], min_confidence: float) -> dict[int, Observation]:
    if not ids:
        return {}
    rows = store.execute(
        f"SELECT {_OBS_COLUMNS} FROM observations WHERE id IN ({','.join('?' * len(ids))}) AND confidence >= ?",
        [*ids, min_confidence],
    )
    return {int(r[0]): _row_to_observation(r) for r in rows}


def _snippet(row: Observation, limit: int = 200) -> str:
    text = " ".join(row.text.split())
    if text.lower() == row.label.lower():
        text = row.label  # stages that copy the label into the text: say it once
    elif row.kind not in ("speech", "text") and row.label:
        text = f"{row.label}: {text}" if text else row.label
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    out: list[Moment] = []
    for span in merge_spans(rows.values(), merge_gap, same_text):  # one moment per thing, as everywhere
        best = max(span.rows, key=lambda r: (fused[int(r.id or 0)], -r.start))
        oid = int(best.id or 0)
        out.append(Moment(
            source_id=span.source_id, start=span.start, end=span.end,
            kind=best.kind, snippet=_snippet(best), thumbnail=thumbnail_of(best.payload),
            score=round(fused[oid], 6), observation_id=oid, label=best.label,
            wall_start=best.wall_start, observation_ids=tuple(sorted(span.ids)),
            matched_by=tuple(sorted(set().union(*(matched[i] for i in span.ids)))),
        ))
    out.sort(key=lambda m: (-m.score, m.start, m.observation_id))
    out = out[:limit]
    return out


def parse_media_time(value: str | float | None) -> float | None:
    """Seconds from ``"95"``, ``"95.5"``, ``"1:35"``, ``"0:01:35"`` or ``"1 min 35 s"`` (media time, parsed by
    :func:`scenewatch.vocabulary.time.parse_duration`); ``None`` stays ``None``.

    Raises:
        ScenewatchError: the value is not a time.
    """
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    try:
        return parse_duration(value)
    except ScenewatchError:
        raise ScenewatchError(f"not a media time: {value!r} (use seconds, mm:ss, hh:mm:ss or 1 h 5 min)") from None


def search_with_config(
    config: Config,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = 10,
    embedder: Callable[[], Embedder] | None = None,
) -> list[Moment]:
    """Search the configured store, adding vectors when the index and embedder allow it.

    Keyword search always runs; the vector side is used when the index holds vectors and
    ``embedder`` (a factory the service layer hands in, called only then) gives the model the
    index was built with. A missing embedder extra only logs a warning.

    Raises:
        EmbeddingModelMismatch: the index was built with another model (run ``scenewatch reembed``).
    """
    from scenewatch.errors import BackendUnavailable

    with open_store(config.store.target, readonly=True) as store:
        model = None
        if embedder is not None and VectorIndex.for_store(store).model() is not None:
            try:
                model = embedder()
            except BackendUnavailable as exc:
                log.warning("searching by keywords only: %s", exc)
        return search(store, query, embedder=model, filters=filters, limit=limit)
