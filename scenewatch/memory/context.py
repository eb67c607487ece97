"""Rolling compressed context for a reasoner, in the spirit of InternVideo2.5's HiCo.

Raw timelines are mostly repetition: a parked car detected on every keyframe, a sign read
(and misread) every half second, the same scene for minutes. Handing that to a small model
costs thousands of tokens and buries the few rows that matter. Two stages:

1. **Clip-level redundancy reduction.** Rows under a confidence floor are dropped; repeated
   rows of the same thing — same track, same sound/scene label, or text that is a
   near-duplicate (embedding cosine, else string similarity, so OCR misreads join their
   span) — merge into one span when less than ``merge_gap`` apart. A span keeps every member
   id, its count, best confidence, first/last box, the majority text, and one keyframe.
2. **Query-guided selection.** Spans are scored by relevance to the question or trigger
   (embedding similarity, else shared words), a salience prior per kind × confidence,
   rarity and recency, then taken greedily under a token budget and put back in time order.

The output is a list of timestamped lines that cite observation ids (``#123``) plus the
selected keyframe references, and statistics (items in, kept, estimated tokens).

Stage 1 is the one merge of :mod:`scenewatch.spans` with a text-similarity policy. Stage 2
also picks the evidence of open questions in ``ask`` and the highlights of ``report``
(:func:`select_for_question`), with the embedder the service layer hands in.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from scenewatch import spans as spans_of
from scenewatch.errors import ScenewatchError
from scenewatch.memory.search import STOPWORDS
from scenewatch.memory.store import TimelineStore
from scenewatch.memory.vectors import VectorIndex
from scenewatch.payloads import thumbnail_of
from scenewatch.spans import SameThing, Span, normal_text
from scenewatch.types import Observation
from scenewatch.vocabulary.time import format_span, format_time

if TYPE_CHECKING:
    from scenewatch.memory.vectors import Embedder

log = logging.getLogger(__name__)

Vector = NDArray[np.float32]

# How much a kind of row is worth to a reasoner before the question is known.
KIND_SALIENCE: Mapping[str, float] = {
    "speech": 1.0, "sound": 0.9, "text": 0.85, "caption": 0.85, "object": 0.7,
    "scene": 0.45, "motion": 0.35, "gap": 0.3,
}
_TEXT_KINDS = frozenset({"speech", "text", "caption"})
_TOKEN = re.compile(r"\d|[^\W\d_]+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Tokens a BPE model (Qwen/Llama style) spends on ``text``: words, single digits, punctuation."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Knobs of the compression.

    Attributes:
        minutes: length of the rolling window (media time) :func:`build_context` reads.
        token_budget: most estimated tokens of lines in the output.
        min_confidence: rows under this confidence are dropped in stage 1.
        merge_gap: rows of the same thing less than this many seconds apart merge.
        text_similarity: string similarity (0..1) at which two readings are the same text.
        vector_similarity: embedding cosine at which two readings are the same text.
        max_keyframes: most keyframe references in the output.
        max_text_chars: longest quoted text in a line.
        relevance_weight: weight of question relevance against the salience prior.
    """

    minutes: float = 10.0
    token_budget: int = 600
    min_confidence: float = 0.3
    merge_gap: float = 3.0
    text_similarity: float = 0.8
    vector_similarity: float = 0.9
    max_keyframes: int = 8
    max_text_chars: int = 160
    relevance_weight: float = 2.0


@dataclass(frozen=True, slots=True)
class KeyframeRef:
    """A keyframe the reasoner may look at: its observation, media time and thumbnail path."""

    observation_id: int
    source_id: str
    t: float
    thumbnail: str


@dataclass(frozen=True, slots=True)
class ContextLine:
    """One line of the compressed context."""

    observation_id: int | None
    source_id: str
    start: float
    end: float
    kind: str
    text: str
    tokens: int
    observation_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextStats:
    """What the compression did."""

    items_in: int
    items_after_stage1: int
    items_kept: int
    tokens_in: int
    tokens_out: int
    keyframes_in: int
    keyframes_kept: int

    @property
    def reduction(self) -> float:
        """``tokens_in / tokens_out`` (∞ when nothing is kept)."""
        return self.tokens_in / self.tokens_out if self.tokens_out else math.inf


@dataclass(frozen=True, slots=True)
class CompressedContext:
    """An ordered, timestamped context for a reasoner, with keyframes and statistics."""

    lines: tuple[ContextLine, ...]
    keyframes: tuple[KeyframeRef, ...]
    stats: ContextStats
    question: str | None = None

    def text(self) -> str:
        """The lines as one prompt block (one line per span, time order, ``#id`` citations)."""
        out = [line.text for line in self.lines]
        out += [f"keyframe #{k.observation_id} {format_time(k.t)} {k.thumbnail}" for k in self.keyframes]
        return "\n".join(out)


# --------------------------------------------------------------------------- stage 1
def similar_text(settings: ContextSettings, vectors: Mapping[int, Vector]) -> SameThing:
    """Merge policy: a text-bearing row continues a run whose first reading it nearly repeats.

    Near-duplicate means embedding cosine ≥ ``vector_similarity`` when both rows have stored
    vectors, else string similarity ≥ ``text_similarity`` (so OCR misreads join their span).
    """

    def same(row: Observation, run: Sequence[Observation]) -> bool:
        head = run[0]
        a, b = normal_text(row.text), normal_text(head.text)
        if a == b:
            return True
        va = vectors.get(row.id) if row.id is not None else None
        vb = vectors.get(head.id) if head.id is not None else None
        if va is not None and vb is not None:
            return float(va @ vb) >= settings.vector_similarity
        return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= settings.text_similarity

    return same


def reduce_redundancy(
    observations: Sequence[Observation],
    settings: ContextSettings = ContextSettings(),
    vectors: Mapping[int, Vector] | None = None,
) -> list[Span]:
    """Stage 1: drop low-confidence rows and merge repeated ones into spans, in time order.

    The one merge of :func:`scenewatch.spans.merge_spans`, with a text-similarity policy.

    Args:
        observations: rows of the window (any order).
        settings: confidence floor, merge gap and similarity thresholds.
        vectors: stored embeddings by observation id (near-duplicate text test); optional.
    """
    kept = [o for o in observations if o.confidence >= settings.min_confidence]
    return spans_of.merge_spans(kept, settings.merge_gap, similar_text(settings, vectors or {}))


def _ids(span: Span) -> list[int]:
    return [o.id for o in span.rows if o.id is not None]


# --------------------------------------------------------------------------- rendering
def render_span(span: Span, settings: ContextSettings = ContextSettings()) -> str:
    """One compact line: ``#id start-end kind what (×count, confidence) [box]``."""
    best = span.best
    head = f"#{best.id} {format_span(span.start, span.end)} {span.kind}"
    text = span.text
    if len(text) > settings.max_text_chars:
        text = text[: settings.max_text_chars - 1] + "…"
    if span.kind in _TEXT_KINDS:
        what = f'"{text}"'
    else:
        what = span.label + (f' "{text}"' if text and text.lower() != span.label.lower() else "")
        if best.track_id is not None and span.kind == "object":
            what += f" track {best.track_id}"
    extra = f" ×{len(span.rows)}" if len(span.rows) > 1 else ""
    line = f"{head} {what}{extra} conf {best.confidence:.2f}"
    if best.box is not None and span.kind in ("object", "text"):
        line += " [" + ",".join(f"{v:.0f}" for v in best.box) + "]"
    return line


def _keyframe(span: Span) -> KeyframeRef | None:
    with_thumbs = [o for o in span.rows if thumbnail_of(o.payload) and o.id is not None]
    if not with_thumbs:
        return None
    mid = (span.start + span.end) / 2
    best = min(with_thumbs, key=lambda o: (abs(o.start - mid), -o.confidence))
    assert best.id is not None
    return KeyframeRef(best.id, best.source_id, best.start, str(thumbnail_of(best.payload)))


# --------------------------------------------------------------------------- stage 2
def _relevance(span: Span, question_words: set[str], query_vec: Vector | None,
               vectors: Mapping[int, Vector]) -> float:
    if query_vec is not None:
        member_vecs = [vectors[i] for i in _ids(span) if i in vectors]
        if member_vecs:
            mean = np.mean(member_vecs, axis=0)
            return max(0.0, float(mean @ query_vec) / (float(np.linalg.norm(mean)) or 1.0))
    if not question_words:
        return 0.0
    words = set(re.findall(r"\w+", f"{span.label} {span.text}".lower()))
    return len(words & question_words) / len(question_words)


def select_spans(
    spans: Sequence[Span],
    question: str | None = None,
    settings: ContextSettings = ContextSettings(),
    query_vec: Vector | None = None,
    vectors: Mapping[int, Vector] | None = None,
    limit: int | None = None,
) -> list[Span]:
    """Stage 2: score spans and keep the best (at most ``limit``) under the token budget, in time order."""
    return [s for _, s in _select(spans, question, settings, query_vec, vectors, limit)]


def _select(
    spans: Sequence[Span],
    question: str | None,
    settings: ContextSettings,
    query_vec: Vector | None,
    vectors: Mapping[int, Vector] | None,
    limit: int | None = None,
) -> list[tuple[float, Span]]:
    """``(score, span)`` of the spans kept under the budget, in time order."""
    if not spans:
        return []
    vectors = vectors or {}
    words = {w for w in re.findall(r"\w+", (question or "").lower()) if w not in STOPWORDS}
    label_counts = Counter((s.kind, s.label.lower(), s.text.lower()) for s in spans)
    t0, t1 = min(s.start for s in spans), max(s.end for s in spans)
    scored: list[tuple[float, Span]] = []
    for s in spans:
        salience = KIND_SALIENCE.get(s.kind, 0.5) * s.confidence
        rarity = 1.0 / (1.0 + math.log(label_counts[(s.kind, s.label.lower(), s.text.lower())]))
        recency = (s.end - t0) / (t1 - t0) if t1 > t0 else 1.0
        relevance = _relevance(s, words, query_vec, vectors)
        scored.append((salience * (0.5 + 0.5 * rarity) + 0.2 * recency + settings.relevance_weight * relevance, s))
    kept: list[tuple[float, Span]] = []
    used = 0
    for score, s in sorted(scored, key=lambda x: (-x[0], x[1].start)):
        if limit is not None and len(kept) >= limit:
            break
        cost = estimate_tokens(render_span(s, settings))
        if used + cost <= settings.token_budget:
            kept.append((score, s))
            used += cost
    return sorted(kept, key=lambda x: (x[1].start, x[1].kind))


# --------------------------------------------------------------------------- entry points
def compress(
    observations: Sequence[Observation],
    question: str | None = None,
    settings: ContextSettings = ContextSettings(),
    *,
    query_vec: Vector | None = None,
    vectors: Mapping[int, Vector] | None = None,
) -> CompressedContext:
    """Compress a window of observations into a reasoner's context (both stages).

    Args:
        observations: the rows of the window.
        question: the question or trigger that guides selection (``None``: salience only).
        settings: budget and thresholds.
        query_vec: the question's embedding, for embedding relevance.
        vectors: stored embeddings by observation id (near-duplicates, relevance).
    """
    spans = reduce_redundancy(observations, settings, vectors)
    scored = _select(spans, question, settings, query_vec, vectors)
    kept = [s for _, s in scored]
    lines = []
    for s in kept:
        text = render_span(s, settings)
        lines.append(ContextLine(s.best.id, s.source_id, s.start, s.end, s.kind, text, estimate_tokens(text),
                                 tuple(_ids(s))))
    by_score = [s for _, s in sorted(scored, key=lambda x: -x[0])]
    frames = [k for k in (_keyframe(s) for s in by_score) if k is not None]
    frames = sorted(frames[: settings.max_keyframes], key=lambda k: k.t)
    raw_tokens = sum(estimate_tokens(render_span(spans_of.to_span([o]), settings)) for o in observations)
    stats = ContextStats(
        items_in=len(observations), items_after_stage1=len(spans), items_kept=len(kept), tokens_in=raw_tokens,
        tokens_out=sum(line.tokens for line in lines),
        keyframes_in=sum(1 for o in observations if thumbnail_of(o.payload)), keyframes_kept=len(frames),
    )
    return CompressedContext(tuple(lines), tuple(frames), stats, question)


def build_context(
    store: TimelineStore,
    question: str | None = None,
    *,
    source_id: str | None = None,
    until: float | None = None,
    embedder: Embedder | None = None,
    settings: ContextSettings = ContextSettings(),
) -> CompressedContext:
    """The compressed context of the last ``settings.minutes`` of media time.

    Args:
        store: the timeline.
        question: what the reasoner will be asked (or the trigger's description).
        source_id: only this source (default: all).
        until: end of the window in media time (default: the latest stored row).
        embedder: embeds the question for relevance (must match the vector index's model);
            stored vectors are used for near-duplicates either way.
        settings: window, budget and thresholds.
    """
    if until is None:
        sql, params = 'SELECT MAX("end") FROM observations', []
        if source_id is not None:
            sql += " WHERE source_id = ?"
            params.append(source_id)
        until = float(store.execute(sql, params)[0][0] or 0.0)
    since = until - settings.minutes * 60.0
    rows = store.observations(source_id=source_id, since=since, until=until)
    index = VectorIndex.for_store(store)
    vectors = index.vectors([o.id for o in rows if o.id is not None]) if index.model() else {}
    query_vec = None
    if embedder is not None and question and vectors:
        index.check_model(embedder.model_name, embedder.dim)
        query_vec = embedder.embed_texts([question])[0]
    return compress(rows, question, settings, query_vec=query_vec, vectors=vectors)


def select_for_question(
    store: TimelineStore,
    spans: Sequence[Span],
    question: str,
    *,
    embedder: Embedder | None = None,
    limit: int = 8,
    settings: ContextSettings = ContextSettings(),
) -> list[Span]:
    """The spans an open question ("what happened?", "describe the last minute") is answered with.

    Stage 2 over already merged spans: one span per (kind, label, text) — the longest — then
    scored by relevance to ``question`` (by embedding when ``embedder`` matches the vector
    index, else by shared words), salience, rarity and recency, and kept under the token
    budget, at most ``limit``, in time order.

    Args:
        store: the timeline (its vector index gives relevance by embedding).
        spans: merged spans of the question's window.
        question: the question as asked.
        embedder: the configured embedder, handed in by the service layer (optional).
        limit: most spans returned.
        settings: token budget and relevance weight.
    """
    best: dict[tuple[str, str, str], Span] = {}
    for s in spans:
        key = (s.kind, s.label.lower(), s.text.lower()[:40])
        if key not in best or s.duration > best[key].duration:
            best[key] = s
    unique = sorted(best.values(), key=lambda s: (s.start, s.kind))
    query_vec: Vector | None = None
    vectors: dict[int, Vector] = {}
    if embedder is not None and question.strip():
        try:
            index = VectorIndex.for_store(store)
            if index.model() == (embedder.model_name, embedder.dim):
                vectors = index.vectors([i for s in unique for i in _ids(s)])
                query_vec = embedder.embed_texts([question])[0] if vectors else None
        except ScenewatchError as exc:  # a missing embedder extra costs relevance by meaning, not the answer
            log.warning("open question ranked by words only: %s", exc)
            vectors, query_vec = {}, None
    return select_spans(unique, question, settings, query_vec, vectors, limit=limit)
