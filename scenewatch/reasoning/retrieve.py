"""Answer typed queries from the store with real operators; the model never sees raw rows.

Per-keyframe rows are merged into spans (same source, kind, label and track; gaps up to
``merge_gap`` bridged), rows under the confidence threshold are set aside (and reported as
what was checked), and the operators — first/last seen, counts of tracks, durations,
ordering, presence, text on an object, what was said — compute the answer's value. The
result is a :class:`Finding`: a typed :class:`Result` per intent (``WhenResult``,
``CountResult``…), the spans that support it, and what was checked.

Adding a question type takes three edits: the intent in ``reasoning/query.py`` (and the
planner rule that produces it), a ``Result`` dataclass plus an ``@operator("intent")``
method here, and a ``@draft_result.register`` function in ``reasoning/answer.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from scenewatch.memory.context import select_for_question
from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.guard import screen_scene_text
from scenewatch.reasoning.meaning import MEANING_THRESHOLD, MeaningMatcher
from scenewatch.reasoning.query import Query, Subject
from scenewatch.reasoning.screen import Screening, screen_observations
from scenewatch.spans import Box, Span, merge_spans
from scenewatch.types import Observation
from scenewatch.vocabulary.time import format_span

if TYPE_CHECKING:
    from scenewatch.memory.vectors import Embedder

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Cite:
    """A span cited as evidence, and which of its rows stands for it."""

    span: Span
    at: Literal["first", "last"] = "first"

    @property
    def observation_id(self) -> int:
        """The id of the row that stands for the span."""
        return self.span.ids[0] if self.at == "first" else self.span.ids[-1]

    @property
    def box(self) -> Box | None:
        """The box of that row."""
        return self.span.first_box if self.at == "first" else self.span.last_box


@dataclass(frozen=True, slots=True)
class Result:
    """The typed value an operator computes; one subclass per kind of answer.

    Attributes:
        open_ended: the answer lists what was perceived rather than a fact (the model may phrase it).
    """

    open_ended: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class WhenResult(Result):
    """``when``: the first (or last) time the subject was perceived, and over how many spans."""

    time: float | None = None
    spans: int = 0
    gone: float | None = None  # a departure row at the subject's place after it was last seen


@dataclass(frozen=True, slots=True)
class CountResult(Result):
    """``count``: distinct tracks (or spans, for untracked kinds)."""

    n: int = 0


@dataclass(frozen=True, slots=True)
class DurationResult(Result):
    """``duration``: seconds perceived in total, over these merged intervals."""

    seconds: float = 0.0
    intervals: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class OrderResult(Result):
    """``order``: ``(name, first time)`` in time order, subjects never perceived, and a polar verdict."""

    order: tuple[tuple[str, float], ...] = ()
    missing: tuple[str, ...] = ()
    holds: bool | None = None


@dataclass(frozen=True, slots=True)
class PresenceResult(Result):
    """``yes-no``: whether the subject was perceived, over how many spans."""

    present: bool = False
    spans: int = 0


@dataclass(frozen=True, slots=True)
class TextResult(Result):
    """``what-text``: the distinct readings, best first."""

    texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SaidResult(Result):
    """``what-said``: the transcript segments, in time order."""

    texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectionResult(Result):
    """``what`` with ``detail="direction"``: how the subject moved."""

    direction: str | None = None


@dataclass(frozen=True, slots=True)
class OverviewResult(Result):
    """``what`` / ``describe``: the cites are the answer (salient spans in time order)."""

    open_ended: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class MentionResult(Result):
    """A word perception cannot write, looked up in every row's label and text."""

    term: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """What retrieval found for one query.

    Attributes:
        query: the query.
        found: whether the subject was perceived (with enough confidence).
        result: the typed value computed for the query's intent.
        cites: supporting spans, most relevant first.
        checked: what was searched, in words ("object rows labelled dog, 0–30 s, confidence ≥ 0.3").
        ignored: rows set aside for low confidence.
        withheld: scene text/speech rows not quoted because they read as instructions.
        withheld_rows: those rows (times and kinds may be reported, never their words).
    """

    query: Query
    found: bool
    result: Result = field(default_factory=OverviewResult)
    cites: tuple[Cite, ...] = ()
    checked: str = ""
    ignored: tuple[Observation, ...] = ()
    withheld: int = 0
    withheld_rows: tuple[Observation, ...] = ()


_Op = TypeVar("_Op", bound=Callable[..., Finding])
OPERATORS: dict[str, Callable[..., Finding]] = {}
"""``intent -> operator(retriever, query)``; filled by :func:`operator`."""


def operator(*intents: str) -> Callable[[_Op], _Op]:
    """Register a :class:`Retriever` method as the operator of ``intents``."""

    def register(fn: _Op) -> _Op:
        for intent in intents:
            OPERATORS[intent] = fn
        return fn

    return register


# ---------------------------------------------------------------------------- selection
_WORD = re.compile(r"[\w']+")
_FILLER = {"the", "a", "an", "to", "of", "that", "this", "is", "was", "be", "and", "about", "someone", "somebody",
           "their", "his", "her", "my", "your", "our", "its", "any", "anyone", "anybody"}


def phrase_matches(phrase: str, text: str) -> bool:
    """Whether most content words of ``phrase`` occur in ``text`` (prefix match, case-insensitive)."""
    want = [w for w in _WORD.findall(phrase.lower()) if w not in _FILLER]
    have = _WORD.findall(text.lower())
    if not want:
        return True
    hits = sum(1 for w in want if any(h.startswith(w[:5]) or (w.startswith(h[:5]) and len(h) >= 4) for h in have))
    return hits / len(want) >= 0.6


@dataclass(slots=True)
class Retriever:
    """Store operators for typed queries.

    Args:
        store: the timeline.
        min_confidence: rows under this are set aside (and reported as checked).
        merge_gap: seconds of missing rows bridged when merging.
        screen: text screen used to withhold instruction-like scene text (``None`` = built-in rules).
        embedder: the configured embedder (handed in by the service layer): open questions then
            pick their spans by embedding relevance, else by shared words; speech/text phrases
            match by meaning as well as by words (:mod:`scenewatch.reasoning.meaning`).
        meaning_threshold: cosine at which a phrase and a row mean the same thing.
    """

    store: TimelineStore
    min_confidence: float = 0.3
    merge_gap: float = 1.0
    screen: Callable[[str], bool] | None = None
    embedder: Embedder | None = None
    meaning_threshold: float = MEANING_THRESHOLD
    held: list[Observation] = field(default_factory=list)  # rows withheld by the last retrieve()
    _matcher: MeaningMatcher | None = field(default=None, repr=False)
    _screenings: dict[tuple[Any, ...], Screening] = field(default_factory=dict, repr=False)

    def vocabulary(self, source_id: str | None = None) -> dict[str, str]:
        """``label -> kind`` of everything in the store (for the planner)."""
        sql = "SELECT DISTINCT lower(label), kind FROM observations WHERE label != ''"
        params: list[Any] = []
        if source_id:
            sql += " AND source_id = ?"
            params.append(source_id)
        return {str(r[0]): str(r[1]) for r in self.store.execute(sql, params) if r[1] in ("object", "sound")}

    def _meaning(self) -> MeaningMatcher | None:
        if self.embedder is None:
            return None
        if self._matcher is None or self._matcher.embedder is not self.embedder:
            self._matcher = MeaningMatcher(self.embedder, self.meaning_threshold)
        return self._matcher

    def _window(self, q: Query) -> tuple[float | None, float | None]:
        if q.last_seconds is None:
            return q.since, q.until
        sql = 'SELECT MAX("end") FROM observations' + (" WHERE source_id=?" if q.source_id else "")
        end = self.store.execute(sql, [q.source_id] if q.source_id else [])[0][0] or 0.0
        return max(0.0, float(end) - q.last_seconds), None

    def _flagged(self, text: str) -> bool:
        return (self.screen or (lambda t: screen_scene_text(t).flagged))(text)

    def _screening(self, q: Query) -> Screening:
        """The screen of every text/speech row in the query's window (each read with its neighbours)."""
        since, until = self._window(q)
        key = (q.source_id, since, until)
        if key not in self._screenings:
            context = self.store.observations(
                source_id=q.source_id, kinds=["text", "speech"], since=None if since is None else since - 5.0,
                until=None if until is None else until + 5.0)
            self._screenings[key] = screen_observations(context, text_screen=self.screen)
        return self._screenings[key]

    def _withhold(self, q: Query, rows: list[Observation]) -> tuple[list[Observation], list[Observation]]:
        kept, held = self._screening(q).split(rows)
        outside = [r for r in kept if not self._screening(q).covers(r)]  # e.g. search hits outside the window
        if outside:
            kept, more = screen_observations(outside, text_screen=self.screen).split(kept)
            held += more
        known = {id(r) for r in self.held}
        self.held.extend(r for r in held if id(r) not in known)
        return kept, held

    @staticmethod
    def in_scope(q: Query, rows: list[Observation]) -> list[Observation]:
        """Rows of the sources the question names, inside its wall-clock range (rows without a wall clock are out)."""
        if q.sources:
            rows = [r for r in rows if r.source_id in q.sources]
        if q.wall_since is not None and q.wall_until is not None:
            lo, hi = q.wall_since, q.wall_until
            rows = [r for r in rows if r.wall_start is not None
                    and r.wall_start < hi and r.wall_start + (r.end - r.start) >= lo]
        return rows

    def rows(self, q: Query, subject: Subject | None) -> tuple[list[Observation], list[Observation], int]:
        """Rows for ``subject`` in the query's window: ``(kept, low-confidence, withheld count)``."""
        since, until = self._window(q)
        kinds = list(subject.kinds) if subject else None
        rows = self.in_scope(q, self.store.observations(source_id=q.source_id, kinds=kinds, since=since,
                                                        until=until))
        if subject:
            rows = [r for r in rows if subject.admits(r)]
        if subject and subject.phrase:
            phrase = subject.phrase
            meant = self._meaning()
            rows = [r for r in rows if phrase_matches(phrase, r.text)
                    or (meant is not None and r.kind in ("speech", "text") and meant.matches(phrase, r.text))]
        rows, withheld = self._withhold(q, rows)
        kept = [r for r in rows if r.confidence >= self.min_confidence]
        low = [r for r in rows if r.confidence < self.min_confidence]
        return kept, low, len(withheld)

    def spans(self, q: Query, subject: Subject | None) -> tuple[list[Span], list[Observation], int]:
        """Merged spans for ``subject``: ``(spans, low-confidence rows, withheld count)``."""
        kept, low, withheld = self.rows(q, subject)
        return merge_spans(kept, self.merge_gap), low, withheld

    def checked(self, q: Query, subject: Subject | None) -> str:
        """What a search covered, in words."""
        since, until = self._window(q)
        what = "all rows" if subject is None else (
            f"{'/'.join(subject.kinds)} rows" + (f" labelled {subject.name}" if subject.labels else "")
            + (f" mentioning '{subject.phrase}'" if subject.phrase else ""))
        window = "" if since is None and until is None else \
            f", {format_span(since if since is not None else 0.0, until if until is not None else float('inf'))}"
        if q.wall_phrase:
            window += f", {q.wall_phrase}"
        if q.sources:
            window += f", on {', '.join(q.sources)}"
        return f"{what}{window}, confidence ≥ {self.min_confidence:g}"

    # --------------------------------------------------------------------- operators
    def retrieve(self, q: Query) -> Finding:
        """Run the operator for the query's intent.

        Rows withheld by the screen are left out of the cites and listed in
        ``Finding.withheld_rows`` (times and kinds only may be reported, never their words).
        """
        self.held = []
        finding = self._unresolved(q) if q.unresolved and not q.subjects else OPERATORS[q.intent](self, q)
        if not self.held:
            return finding
        return replace(finding, withheld=max(finding.withheld, len(self.held)), withheld_rows=tuple(self.held))

    def _unresolved(self, q: Query) -> Finding:
        term = q.unresolved[0]
        hits = [o for o in self.in_scope(q, search(self.store, term, q.source_id))
                if o.confidence >= self.min_confidence and term in (o.label + " " + o.text).lower()]
        hits, _ = self._withhold(q, hits)
        spans = merge_spans(hits, self.merge_gap)
        return Finding(q, bool(spans), MentionResult(term), cites=tuple(Cite(s) for s in spans[:3]),
                       checked=f"every observation for '{term}'")

    def _subject_spans(self, q: Query) -> tuple[list[Span], list[Observation], int, Subject | None]:
        subject = q.subjects[0] if q.subjects else None
        spans, low, withheld = self.spans(q, subject)
        if not spans and not low and subject is not None and "object" in subject.kinds:
            spans = self._proxy_spans(q, subject)
        return spans, low, withheld, subject

    def _proxy_spans(self, q: Query, subject: Subject) -> list[Span]:
        """Text that stands for an object the detector has no class for (a package by its label).

        Uses the vocabulary's hints (``PRIORITY MAIL`` → package); only when the store holds no
        row of the object itself, so a real detection always wins.
        """
        words = {h.lower() for h in subject.targets.hints} if subject.targets is not None else set()
        if not words:
            return []
        since, until = self._window(q)
        rows = [r for r in self.in_scope(q, self.store.observations(
                    source_id=q.source_id, kinds=["text"], since=since, until=until,
                    min_confidence=self.min_confidence))
                if any(w in r.text.lower() for w in words) and not self._flagged(r.text)]
        return merge_spans(rows, self.merge_gap)

    @operator("when")
    def _when(self, q: Query) -> Finding:
        spans, low, withheld, subject = self._subject_spans(q)
        if not spans:
            return Finding(q, False, WhenResult(), checked=self.checked(q, subject), ignored=tuple(low),
                           withheld=withheld)
        if q.moment == "last":
            span = max(spans, key=lambda s: clock(s) + s.duration)
            gone = self._departure(q, span)
            if gone is not None:
                return Finding(q, True, WhenResult(span.end, len(spans), gone.start),
                               cites=(Cite(span, "last"), Cite(gone)), checked=self.checked(q, subject))
            return Finding(q, True, WhenResult(span.end, len(spans)), cites=(Cite(span, "last"),),
                           checked=self.checked(q, subject))
        span = min(spans, key=clock)
        return Finding(q, True, WhenResult(span.start, len(spans)), cites=(Cite(span),),
                       checked=self.checked(q, subject))

    def _departure(self, q: Query, span: Span) -> Span | None:
        """The departure row (arrivals stage) where an arrival rested, within 2 s after it was last seen."""
        if span.kind != "object" or not span.last_box or \
                not any(getattr(r.payload, "origin", None) == "arrival" for r in span.rows):
            return None
        rows = self.store.observations(source_id=span.source_id, kinds=["object"], since=span.end - 1.0,
                                       until=span.end + 2.0, min_confidence=self.min_confidence)
        box = span.last_box
        gone = [r for r in rows if getattr(r.payload, "origin", None) == "departure" and r.box is not None
                and r.box[0] < box[2] and box[0] < r.box[2] and r.box[1] < box[3] and box[1] < r.box[3]]
        return merge_spans(gone[:1], self.merge_gap)[0] if gone else None

    @operator("count")
    def _count(self, q: Query) -> Finding:
        spans, low, withheld, subject = self._subject_spans(q)
        tracks = {s.track_id for s in spans if s.track_id is not None}
        if tracks:
            n = len(tracks)
            firsts = [min((s for s in spans if s.track_id == t), key=lambda s: s.start) for t in sorted(tracks)]
        else:
            n = len(spans)
            firsts = spans
        firsts.sort(key=lambda s: s.start)
        return Finding(q, n > 0, CountResult(n), cites=tuple(Cite(s) for s in firsts[:6]),
                       checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)

    @operator("duration")
    def _duration(self, q: Query) -> Finding:
        spans, low, _withheld, subject = self._subject_spans(q)
        if not spans:
            return Finding(q, False, DurationResult(), checked=self.checked(q, subject), ignored=tuple(low))
        merged: list[list[float]] = []
        for s in sorted(spans, key=lambda s: s.start):
            if merged and s.start <= merged[-1][1] + self.merge_gap:
                merged[-1][1] = max(merged[-1][1], s.end)
            else:
                merged.append([s.start, s.end])
        total = sum(b - a for a, b in merged)
        intervals = tuple((round(a, 1), round(b, 1)) for a, b in merged)
        return Finding(q, True, DurationResult(round(total, 1), intervals), cites=tuple(Cite(s) for s in spans[:4]),
                       checked=self.checked(q, subject))

    @operator("order")
    def _order(self, q: Query) -> Finding:
        firsts: list[tuple[Subject, Span | None]] = []
        for subject in q.subjects[:3]:
            spans, _, _ = self.spans(q, subject)
            firsts.append((subject, min(spans, key=clock) if spans else None))
        seen = [(s, sp) for s, sp in firsts if sp is not None]
        seen.sort(key=lambda x: clock(x[1]))
        holds = None
        if q.relation and len(firsts) >= 2 and firsts[0][1] and firsts[1][1]:
            a, b = clock(firsts[0][1]), clock(firsts[1][1])
            holds = a < b if q.relation == "before" else a > b
        result = OrderResult(order=tuple((s.name, sp.start) for s, sp in seen),
                             missing=tuple(s.name for s, sp in firsts if sp is None), holds=holds)
        return Finding(q, len(seen) >= 2, result, cites=tuple(Cite(sp) for _, sp in seen),
                       checked="; ".join(self.checked(q, s) for s, _ in firsts))

    @operator("yes-no")
    def _presence(self, q: Query) -> Finding:
        spans, low, withheld, subject = self._subject_spans(q)
        if spans:
            best = max(spans, key=lambda s: (s.duration, s.confidence))
            return Finding(q, True, PresenceResult(True, len(spans)), cites=(Cite(best),),
                           checked=self.checked(q, subject))
        lowspans = merge_spans(low, self.merge_gap)
        return Finding(q, False, PresenceResult(False), cites=tuple(Cite(s) for s in lowspans[:3]),
                       checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)

    @operator("what-text")
    def _text(self, q: Query) -> Finding:
        text_subject = next((s for s in q.subjects if s.name == "text"), Subject("text", "text", ("text",)))
        spans, low, withheld = self.spans(q, text_subject)
        carriers = [s for s in q.subjects if s.name != "text"]
        if carriers:
            holders: list[Span] = []
            for c in carriers:
                holders.extend(self.spans(q, c)[0])
            spans = [s for s in spans if any(_inside(s, h) for h in holders)] or spans
        spans = fold_fragments(spans)
        spans.sort(key=lambda s: (-len(s.rows), -len(s.text), s.start))
        best = _dedupe_text(spans)[:3]
        return Finding(q, bool(best), TextResult(tuple(s.text for s in best)), cites=tuple(Cite(s) for s in best),
                       checked=self.checked(q, text_subject), ignored=tuple(low), withheld=withheld)

    @operator("what-said")
    def _said(self, q: Query) -> Finding:
        subject = next((s for s in q.subjects if s.name == "speech"), Subject("said", "speech", ("speech",)))
        spans, low, withheld = self.spans(q, subject)
        return Finding(q, bool(spans), SaidResult(tuple(s.text for s in spans[:4])),
                       cites=tuple(Cite(s) for s in spans[:4]),
                       checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)

    @operator("what")
    def _what(self, q: Query) -> Finding:
        if q.detail == "direction" and q.subjects:
            spans, low, _, subject = self._subject_spans(q)
            if not spans:
                return Finding(q, False, DirectionResult(), checked=self.checked(q, subject), ignored=tuple(low))
            span = max(spans, key=lambda s: s.duration)
            return Finding(q, True, DirectionResult(direction(span)), cites=(Cite(span, "first"), Cite(span, "last")),
                           checked=self.checked(q, subject))
        spans_all: list[Span] = []
        low_all: list[Observation] = []
        for subject in q.subjects or [None]:
            spans, low, _ = self.spans(q, subject)
            spans_all.extend(spans)
            low_all.extend(low)
        return Finding(q, bool(spans_all), OverviewResult(), cites=self._open_cites(q, spans_all),
                       checked="; ".join(self.checked(q, s) for s in q.subjects) or self.checked(q, None),
                       ignored=tuple(low_all))

    def _open_cites(self, q: Query, spans: Sequence[Span]) -> tuple[Cite, ...]:
        """Open questions are answered from the compressed context's question-guided selection."""
        return tuple(Cite(s) for s in select_for_question(self.store, spans, q.question, embedder=self.embedder))

    def _describe(self, q: Query) -> Finding:
        spans, low, withheld = self.spans(q, q.subjects[0] if q.subjects else None)
        return Finding(q, bool(spans), OverviewResult(), cites=self._open_cites(q, spans),
                       checked=self.checked(q, None), ignored=tuple(low), withheld=withheld)


def clock(span: Span) -> float:
    """When a span started, comparable across sources: its wall clock when it has one, else media time."""
    return span.wall_start if span.wall_start is not None else span.start


def direction(span: Span) -> str:
    """``left to right``, ``right to left``, ``towards the top``… from the span's first and last boxes."""
    if not span.first_box or not span.last_box:
        return "unknown"
    (a, b, c, d), (e, f, g, h) = span.first_box, span.last_box
    dx, dy = (e + g - a - c) / 2, (f + h - b - d) / 2
    if max(abs(dx), abs(dy)) < 20:
        return "did not move"
    if abs(dx) >= abs(dy):
        return "left to right" if dx > 0 else "right to left"
    return "downwards" if dy > 0 else "upwards"


def _inside(text: Span, holder: Span) -> bool:
    if not text.first_box or holder.end < text.start or text.end < holder.start:
        return False
    x = (text.first_box[0] + text.first_box[2]) / 2
    y = (text.first_box[1] + text.first_box[3]) / 2
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in holder.boxes)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _near(a: Span, b: Span, gap: float = 2.0) -> bool:
    """Whether two text spans were read at the same place (boxes overlap) within ``gap`` s."""
    if a.start > b.end + gap or b.start > a.end + gap:
        return False
    if not a.boxes or not b.boxes:
        return True
    return any(x[0] < y[2] and y[0] < x[2] and x[1] < y[3] and y[1] < x[3] for x in a.boxes for y in b.boxes)


def is_fragment(text: str) -> bool:
    """Readings too short to mean anything alone ("●", "KE")."""
    return len(_norm(text).replace(" ", "")) < 3


def fold_fragments(spans: Sequence[Span]) -> list[Span]:
    """Text spans without the fragments of a longer line read at the same place and time.

    A span whose words are a part (prefix or substring) of a longer reading nearby ("KEEP" of
    "KEEP REFRIGERATED") is folded into it; lone fragments under three characters are dropped.
    """
    out: list[Span] = []
    for s in spans:
        if s.kind != "text":
            out.append(s)
            continue
        mine = _norm(s.text)
        if not mine or is_fragment(s.text):
            continue
        longer = any(o is not s and o.kind == "text" and len(_norm(o.text)) > len(mine) and mine in _norm(o.text)
                     and _near(s, o) for o in spans)
        if not longer:
            out.append(s)
    return out


def _dedupe_text(spans: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for s in spans:
        if s.text and all(s.text.lower() != o.text.lower() for o in out):
            out.append(s)
    return out


def search(store: TimelineStore, text: str, source_id: str | None = None, limit: int = 20) -> list[Observation]:
    """Open-question search: hybrid search when ``scenewatch.memory.search`` is installed, else FTS5."""
    try:
        from scenewatch.memory import search as hybrid

        moments = hybrid.search(store, text, filters=hybrid.SearchFilters(source_id=source_id), limit=limit)
        rows = [store.get_observation(m.observation_id) for m in moments]
        return [r for r in rows if r is not None]
    except (ImportError, TypeError, AttributeError) as exc:
        log.debug("hybrid search unavailable (%s); using keyword search", exc)
    except Exception as exc:  # a broken optional index must not break answering
        log.warning("hybrid search failed (%s); using keyword search", exc)
    return store.search_text(text, limit=limit, source_id=source_id)


# operators defined in their own modules register on import
from scenewatch.reasoning import story, traits  # noqa: E402,F401
