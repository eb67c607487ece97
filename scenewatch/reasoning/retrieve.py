"""Answer typed queries from the store with real operators; the model never sees raw rows.

Per-keyframe rows are merged into spans (same source, kind, label and track; gaps up to
``merge_gap`` bridged), rows under the confidence threshold are set aside (and reported as
what was checked), and the operators — first/last seen, counts of tracks, durations,
ordering, presence, text on an object, what was said — compute the answer's value. The
result is a :class:`Finding`: the value, the spans that support it, and what was checked.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.guard import screen_scene_text
from scenewatch.reasoning.query import Query, Subject
from scenewatch.types import Observation

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Span:
    """Per-frame rows of one thing merged into one time span.

    Attributes:
        kind: observation kind.
        label: label of the rows.
        source_id: source.
        start: start of the first row.
        end: end of the last row.
        confidence: highest row confidence.
        track_id: tracker id (objects), else ``None``.
        text: majority reading (OCR) or transcript, else ``""``.
        ids: ids of the merged rows, in time order.
        first_box: box of the first row.
        last_box: box of the last row.
        wall_start: wall-clock time of ``start`` for live sources.
    """

    kind: str
    label: str
    source_id: str
    start: float
    end: float
    confidence: float
    track_id: int | None = None
    text: str = ""
    ids: tuple[int, ...] = ()
    first_box: Box | None = None
    last_box: Box | None = None
    wall_start: float | None = None
    boxes: tuple[Box, ...] = field(default=(), repr=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    @property
    def name(self) -> str:
        """Human name: the label, or the kind for unlabeled rows."""
        return self.label if self.label and self.label not in ("text", "speech") else self.kind


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
class Finding:
    """What retrieval found for one query.

    Attributes:
        query: the query.
        found: whether the subject was perceived (with enough confidence).
        value: the computed answer: a time, count, duration, text, ordering, bool or direction.
        cites: supporting spans, most relevant first.
        checked: what was searched, in words ("object rows labelled dog, 0–30 s, confidence ≥ 0.3").
        ignored: rows set aside for low confidence.
        withheld: scene text/speech rows not quoted because they read as instructions.
    """

    query: Query
    found: bool
    value: Any = None
    cites: tuple[Cite, ...] = ()
    checked: str = ""
    ignored: tuple[Observation, ...] = ()
    withheld: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------ merging
def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _group_key(o: Observation) -> tuple[Any, ...]:
    if o.kind == "object":
        return (o.source_id, o.kind, o.label.lower(), o.track_id)
    if o.kind in ("sound",):
        return (o.source_id, o.kind, o.label.lower())
    return (o.source_id, o.kind, id(o)) if o.kind == "speech" else (o.source_id, o.kind)


def merge_spans(rows: Iterable[Observation], max_gap: float = 1.0) -> list[Span]:
    """Merge per-frame rows into spans.

    Objects merge by (source, label, track); sounds by label; OCR rows by overlapping boxes
    (their text is the majority reading, so one misread frame does not win); speech rows stay
    one span each. A gap longer than ``max_gap`` seconds starts a new span.
    """
    groups: dict[tuple[Any, ...], list[list[Observation]]] = {}
    for o in sorted(rows, key=lambda r: (r.start, r.id or 0)):
        runs = groups.setdefault(_group_key(o), [])
        target = None
        for run in reversed(runs):
            last = run[-1]
            if o.start - max(r.end for r in run) > max_gap:
                continue
            if o.kind == "text" and not (o.box and last.box and _iou(o.box, last.box) > 0.3):
                continue
            target = run
            break
        if target is None:
            runs.append([o])
        else:
            target.append(o)
    spans = [_to_span(run) for runs in groups.values() for run in runs]
    spans.sort(key=lambda s: (s.start, s.kind, s.label))
    return spans


def _to_span(run: list[Observation]) -> Span:
    first, last = run[0], run[-1]
    text = ""
    if first.kind == "text":
        votes = Counter(r.text.strip() for r in run if r.text.strip())
        text = max(votes, key=lambda t: (votes[t], max(r.confidence for r in run if r.text.strip() == t))) if votes \
            else ""
    elif first.kind == "speech":
        text = " ".join(r.text.strip() for r in run)
    boxes = tuple(r.box for r in run if r.box is not None)
    return Span(
        kind=first.kind, label=first.label, source_id=first.source_id, start=first.start,
        end=max(r.end for r in run), confidence=max(r.confidence for r in run), track_id=first.track_id,
        text=text, ids=tuple(int(r.id or 0) for r in run), first_box=first.box, last_box=last.box,
        wall_start=first.wall_start, boxes=boxes,
    )


# ---------------------------------------------------------------------------- selection
_WORD = re.compile(r"[\w']+")
_FILLER = {"the", "a", "an", "to", "of", "that", "this", "is", "was", "be", "and", "about", "someone", "somebody"}


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
    """

    store: TimelineStore
    min_confidence: float = 0.3
    merge_gap: float = 1.0
    screen: Callable[[str], bool] | None = None

    def vocabulary(self, source_id: str | None = None) -> dict[str, str]:
        """``label -> kind`` of everything in the store (for the planner)."""
        sql = "SELECT DISTINCT lower(label), kind FROM observations WHERE label != ''"
        params: list[Any] = []
        if source_id:
            sql += " AND source_id = ?"
            params.append(source_id)
        return {str(r[0]): str(r[1]) for r in self.store.execute(sql, params) if r[1] in ("object", "sound")}

    def _window(self, q: Query) -> tuple[float | None, float | None]:
        if q.last_seconds is None:
            return q.since, q.until
        sql = 'SELECT MAX("end") FROM observations' + (" WHERE source_id=?" if q.source_id else "")
        end = self.store.execute(sql, [q.source_id] if q.source_id else [])[0][0] or 0.0
        return max(0.0, float(end) - q.last_seconds), None

    def _flagged(self, text: str) -> bool:
        return (self.screen or (lambda t: screen_scene_text(t).flagged))(text)

    def rows(self, q: Query, subject: Subject | None) -> tuple[list[Observation], list[Observation], int]:
        """Rows for ``subject`` in the query's window: ``(kept, low-confidence, withheld count)``."""
        since, until = self._window(q)
        kinds = list(subject.kinds) if subject else None
        rows = self.store.observations(source_id=q.source_id, kinds=kinds, since=since, until=until)
        if subject and subject.labels:
            labels = set(subject.labels)
            rows = [r for r in rows if r.label.lower() in labels]
        if subject and subject.phrase:
            rows = [r for r in rows if phrase_matches(subject.phrase, r.text)]
        withheld = [r for r in rows if r.kind in ("text", "speech") and r.text and self._flagged(r.text)]
        rows = [r for r in rows if r not in withheld]
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
            f", {since if since is not None else 0:.1f}–{until if until is not None else float('inf'):.1f} s"
        return f"{what}{window}, confidence ≥ {self.min_confidence:g}"

    # --------------------------------------------------------------------- operators
    def retrieve(self, q: Query) -> Finding:
        """Run the operator for the query's intent."""
        if q.unresolved and not q.subjects:
            return self._unresolved(q)
        op = {
            "when": self._when, "count": self._count, "duration": self._duration, "order": self._order,
            "yes-no": self._presence, "what-text": self._text, "what-said": self._said,
            "what": self._what, "describe": self._describe,
        }[q.intent]
        return op(q)

    def _unresolved(self, q: Query) -> Finding:
        term = q.unresolved[0]
        hits = [o for o in search(self.store, term, q.source_id) if o.confidence >= self.min_confidence
                and term in (o.label + " " + o.text).lower()]
        spans = merge_spans(hits, self.merge_gap)
        return Finding(q, bool(spans), value=term, cites=tuple(Cite(s) for s in spans[:3]),
                       checked=f"every observation for '{term}'")

    def _subject_spans(self, q: Query) -> tuple[list[Span], list[Observation], int, Subject | None]:
        subject = q.subjects[0] if q.subjects else None
        spans, low, withheld = self.spans(q, subject)
        if not spans and not low and subject is not None and "object" in subject.kinds:
            spans = self._proxy_spans(q, subject)
        return spans, low, withheld, subject

    def _proxy_spans(self, q: Query, subject: Subject) -> list[Span]:
        """Text that stands for an object the detector has no class for (a package by its label).

        Uses the concept mapping's synonym table (``PRIORITY MAIL`` → package); only when the
        store holds no row of the object itself, so a real detection always wins.
        """
        from scenewatch.perception.concepts import SYNONYMS

        words = {label.lower() for stage, label in SYNONYMS.get(subject.name, []) if stage == "text"}
        if not words:
            return []
        since, until = self._window(q)
        rows = [r for r in self.store.observations(source_id=q.source_id, kinds=["text"], since=since, until=until,
                                                   min_confidence=self.min_confidence)
                if any(w in r.text.lower() for w in words) and not self._flagged(r.text)]
        return merge_spans(rows, self.merge_gap)

    def _when(self, q: Query) -> Finding:
        spans, low, withheld, subject = self._subject_spans(q)
        if not spans:
            return Finding(q, False, checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)
        if q.moment == "last":
            span = max(spans, key=lambda s: s.end)
            return Finding(q, True, value=span.end, cites=(Cite(span, "last"),), checked=self.checked(q, subject),
                           extra={"spans": len(spans)})
        span = min(spans, key=lambda s: s.start)
        return Finding(q, True, value=span.start, cites=(Cite(span),), checked=self.checked(q, subject),
                       extra={"spans": len(spans)})

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
        return Finding(q, n > 0, value=n, cites=tuple(Cite(s) for s in firsts[:6]), checked=self.checked(q, subject),
                       ignored=tuple(low), withheld=withheld)

    def _duration(self, q: Query) -> Finding:
        spans, low, _withheld, subject = self._subject_spans(q)
        if not spans:
            return Finding(q, False, checked=self.checked(q, subject), ignored=tuple(low))
        merged: list[list[float]] = []
        for s in sorted(spans, key=lambda s: s.start):
            if merged and s.start <= merged[-1][1] + self.merge_gap:
                merged[-1][1] = max(merged[-1][1], s.end)
            else:
                merged.append([s.start, s.end])
        total = sum(b - a for a, b in merged)
        return Finding(q, True, value=round(total, 1), cites=tuple(Cite(s) for s in spans[:4]),
                       checked=self.checked(q, subject),
                       extra={"intervals": [(round(a, 1), round(b, 1)) for a, b in merged]})

    def _order(self, q: Query) -> Finding:
        firsts: list[tuple[Subject, Span | None]] = []
        for subject in q.subjects[:3]:
            spans, _, _ = self.spans(q, subject)
            firsts.append((subject, min(spans, key=lambda s: s.start) if spans else None))
        seen = [(s, sp) for s, sp in firsts if sp is not None]
        seen.sort(key=lambda x: x[1].start)
        value: list[tuple[str, float]] = [(s.name, sp.start) for s, sp in seen]
        extra: dict[str, Any] = {"missing": [s.name for s, sp in firsts if sp is None]}
        if q.relation and len(firsts) >= 2 and firsts[0][1] and firsts[1][1]:
            a, b = firsts[0][1].start, firsts[1][1].start
            extra["holds"] = a < b if q.relation == "before" else a > b
        return Finding(q, len(seen) >= 2, value=value, cites=tuple(Cite(sp) for _, sp in seen),
                       checked="; ".join(self.checked(q, s) for s, _ in firsts), extra=extra)

    def _presence(self, q: Query) -> Finding:
        spans, low, withheld, subject = self._subject_spans(q)
        if spans:
            best = max(spans, key=lambda s: (s.duration, s.confidence))
            return Finding(q, True, value=True, cites=(Cite(best),), checked=self.checked(q, subject),
                           extra={"spans": len(spans)})
        lowspans = merge_spans(low, self.merge_gap)
        return Finding(q, False, value=False, cites=tuple(Cite(s) for s in lowspans[:3]),
                       checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)

    def _text(self, q: Query) -> Finding:
        text_subject = next((s for s in q.subjects if s.name == "text"), Subject("text", "text", ("text",)))
        spans, low, withheld = self.spans(q, text_subject)
        carriers = [s for s in q.subjects if s.name != "text"]
        if carriers:
            holders: list[Span] = []
            for c in carriers:
                holders.extend(self.spans(q, c)[0])
            spans = [s for s in spans if any(_inside(s, h) for h in holders)] or spans
        spans.sort(key=lambda s: -(s.duration * s.confidence))
        best = _dedupe_text(spans)[:3]
        return Finding(q, bool(best), value=[s.text for s in best], cites=tuple(Cite(s) for s in best),
                       checked=self.checked(q, text_subject), ignored=tuple(low), withheld=withheld)

    def _said(self, q: Query) -> Finding:
        subject = next((s for s in q.subjects if s.name == "speech"), Subject("said", "speech", ("speech",)))
        spans, low, withheld = self.spans(q, subject)
        return Finding(q, bool(spans), value=[s.text for s in spans[:4]], cites=tuple(Cite(s) for s in spans[:4]),
                       checked=self.checked(q, subject), ignored=tuple(low), withheld=withheld)

    def _what(self, q: Query) -> Finding:
        if q.detail == "direction" and q.subjects:
            spans, low, _, subject = self._subject_spans(q)
            if not spans:
                return Finding(q, False, checked=self.checked(q, subject), ignored=tuple(low))
            span = max(spans, key=lambda s: s.duration)
            return Finding(q, True, value=direction(span), cites=(Cite(span, "first"), Cite(span, "last")),
                           checked=self.checked(q, subject))
        spans_all: list[Span] = []
        low_all: list[Observation] = []
        for subject in q.subjects or [None]:
            spans, low, _ = self.spans(q, subject)
            spans_all.extend(spans)
            low_all.extend(low)
        return Finding(q, bool(spans_all), value=None, cites=tuple(Cite(s) for s in _salient(spans_all, 8)),
                       checked="; ".join(self.checked(q, s) for s in q.subjects) or self.checked(q, None),
                       ignored=tuple(low_all))

    def _describe(self, q: Query) -> Finding:
        spans, low, withheld = self.spans(q, q.subjects[0] if q.subjects else None)
        return Finding(q, bool(spans), cites=tuple(Cite(s) for s in _salient(spans, 8)),
                       checked=self.checked(q, None), ignored=tuple(low), withheld=withheld)


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


def _dedupe_text(spans: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for s in spans:
        if s.text and all(s.text.lower() != o.text.lower() for o in out):
            out.append(s)
    return out


def _salient(spans: Sequence[Span], n: int) -> list[Span]:
    """Up to ``n`` spans, one per (kind, label, text) first, longest first; returned in time order."""
    best: dict[tuple[str, str, str], Span] = {}
    for s in spans:
        key = (s.kind, s.label.lower(), s.text.lower()[:40])
        if key not in best or s.duration > best[key].duration:
            best[key] = s
    chosen = sorted(best.values(), key=lambda s: -(s.duration * s.confidence + (1 if s.kind != "object" else 0)))[:n]
    return sorted(chosen, key=lambda s: s.start)


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
