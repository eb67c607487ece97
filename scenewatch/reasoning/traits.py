"""Operators for what perception measures about a thing: colour, direction, size, speed, and who was near.

The values come from the object rows' typed payloads (:class:`~scenewatch.payloads.ObjectPayload`,
written by the attributes and arrivals stages); where a row carries no measurement, direction,
size and speed fall back to the row boxes. Each value is the majority (or median) over the rows
of one span, so one misread keyframe does not decide it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from scenewatch.payloads import ObjectPayload
from scenewatch.reasoning.query import Query, Subject
from scenewatch.reasoning.retrieve import Cite, Finding, Result, Retriever, direction, operator
from scenewatch.spans import Span

NEAR_SECONDS = 15.0
"""How far around a sound "who rang the bell?" looks for a person."""

_DIRECTION_WORDS = {"up": "upwards", "down": "downwards", "still": "did not move", "did not move": "did not move"}


@dataclass(frozen=True, slots=True)
class AttributeResult(Result):
    """``attribute``: the measured ``detail`` of the subject, one value per span (best span first)."""

    detail: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WhoResult(Result):
    """``who``: people seen within ``window`` s of the subject's spans (``None``: nobody seen)."""

    window: float = NEAR_SECONDS
    heard_at: float | None = None
    people: int = 0
    names: tuple[str, ...] = ()  # known faces (payload ``identity``) among them, when face recognition ran


def identities(spans: list[Span]) -> tuple[str, ...]:
    """Names the faces stage gave these person spans (majority per span), in order."""
    names = [_majority([p.identity for p in _payloads(s) if p.identity]) for s in spans]
    return tuple(dict.fromkeys(n for n in names if n))


def _payloads(span: Span) -> list[ObjectPayload]:
    return [r.payload for r in span.rows if isinstance(r.payload, ObjectPayload)]


def _majority(values: list[str]) -> str | None:
    return Counter(values).most_common(1)[0][0] if values else None


def _frame_area(span: Span) -> float | None:
    fracs = [(p.size_px, p.size_frac) for p in _payloads(span) if p.size_px and p.size_frac]
    return fracs[0][0] / fracs[0][1] if fracs else None


def measure(span: Span, detail: str) -> str | None:
    """The span's ``detail`` in words (``"blue"``, ``"left to right"``, ``"12% of the frame"``, ``"85 px/s"``)."""
    payloads = _payloads(span)
    if detail == "colour":
        return _majority([p.colour for p in payloads if p.colour])
    if detail == "direction":
        said = _majority([p.direction for p in payloads if p.direction])
        if said is not None:
            return _DIRECTION_WORDS.get(said, said)
        return direction(span) if span.first_box and span.last_box and span.duration > 0 else None
    if detail == "size":
        fracs = [p.size_frac for p in payloads if p.size_frac]
        if fracs:
            return f"{100 * statistics.median(fracs):.1f}% of the frame"
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in span.boxes]
        return f"{statistics.median(areas):.0f} px²" if areas else None
    if detail == "speed":
        speeds = [p.speed for p in payloads if p.speed is not None]
        if speeds:
            return f"{statistics.median(speeds):.0f} px/s"
        if span.first_box and span.last_box and span.duration > 0:
            (a, b, c, d), (e, f, g, h) = span.first_box, span.last_box
            dist = (((e + g - a - c) / 2) ** 2 + ((f + h - b - d) / 2) ** 2) ** 0.5
            return f"{dist / span.duration:.0f} px/s"
    return None


@operator("attribute")
def attribute(r: Retriever, q: Query) -> Finding:
    """Colour, direction, size or speed of the subject, from its longest spans."""
    detail = q.detail or "colour"
    subject = q.subjects[0] if q.subjects else None
    spans, low, _ = r.spans(q, subject)
    spans = [s for s in spans if s.kind == "object"]
    spans.sort(key=lambda s: -s.duration)
    measured = [(s, v) for s in spans[:3] if (v := measure(s, detail)) is not None]
    values = tuple(dict.fromkeys(v for _, v in measured))
    cites: list[Cite] = []
    for s, _ in measured:
        cites.append(Cite(s, "first"))
        if detail in ("direction", "speed") and len(s.ids) > 1:
            cites.append(Cite(s, "last"))
    return Finding(q, bool(values), AttributeResult(detail, values), cites=tuple(cites),
                   checked=r.checked(q, subject), ignored=tuple(low))


_PERSON = Subject("person", "person", ("object",), ("person",))


@operator("who")
def who(r: Retriever, q: Query) -> Finding:
    """Who was around when the subject happened: people seen within :data:`NEAR_SECONDS` of it."""
    subject = q.subjects[0] if q.subjects else None
    if subject is None or subject.name == "person" or not set(subject.kinds) & {"sound", "speech"}:
        spans, low, _ = r.spans(q, _PERSON if subject is None else subject)
        spans.sort(key=lambda s: s.start)
        return Finding(q, bool(spans), WhoResult(people=len({s.track_id for s in spans}), names=identities(spans)),
                       cites=tuple(Cite(s) for s in spans[:3]), checked=r.checked(q, subject),
                       ignored=tuple(low))
    events, low, _ = r.spans(q, subject)
    if not events:
        return Finding(q, False, WhoResult(), checked=r.checked(q, subject), ignored=tuple(low))
    event = min(events, key=lambda s: s.start)
    people, _, _ = r.spans(Query(q.question, "who", source_id=event.source_id), _PERSON)
    near = [p for p in people if p.start <= event.end + NEAR_SECONDS and p.end >= event.start - NEAR_SECONDS]
    near.sort(key=lambda p: abs(p.start - event.start))
    result = WhoResult(NEAR_SECONDS, event.start, len({p.track_id if p.track_id is not None else id(p)
                                                        for p in near}), identities(near))
    return Finding(q, True, result, cites=(Cite(event), *(Cite(p) for p in near[:2])),
                   checked=r.checked(q, subject) + f"; people within ±{NEAR_SECONDS:g} s")
