"""Event summaries and period reports, written from retrieved spans.

:func:`summarize_event` gives a fired trigger a title, a one-paragraph narrative in the
product's voice ("A package was just delivered. The label reads "PRIORITY MAIL"…"), a severity
and the evidence ids; :func:`report` summarises a period across sources; its narrative is the story
:func:`scenewatch.reasoning.story.narrate` tells for "what happened?". Facts come from the
store; a reasoner, when given, may only rephrase the narrative under the same checks as answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.read import t
from scenewatch.reasoning.screen import redact_text, screen_observations, withheld_note
from scenewatch.spans import Span, merge_spans
from scenewatch.types import Event, Observation

if TYPE_CHECKING:
    from scenewatch.reasoning.reasoners import Reasoner

Severity = Literal["info", "warning", "critical"]
_WARNING_SOUNDS = {"glass", "shatter", "breaking", "siren", "alarm", "smoke detector, smoke alarm", "fire alarm",
                   "screaming", "crying, sobbing", "bang"}
_CRITICAL_SOUNDS = {"gunshot, gunfire", "explosion", "screaming", "fire alarm", "smoke detector, smoke alarm"}
_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class EventSummary:
    """A short structured account of a fired trigger."""

    title: str
    narrative: str
    severity: Severity
    evidence_ids: tuple[int, ...]


def _article(name: str) -> str:
    return ("An " if name[:1].lower() in "aeiou" else "A ") + name


def _context(store: TimelineStore, source_id: str, start: float, end: float,
             min_conf: float = 0.3) -> tuple[list[Span], list[Observation]]:
    """Spans of the window and the rows withheld by the screen (read with their neighbours)."""
    rows = store.observations(source_id=source_id, since=start, until=end, min_confidence=min_conf)
    nearby = store.observations(source_id=source_id, kinds=["text", "speech"], since=start - 5.0, until=end + 5.0)
    kept, held = screen_observations(rows, nearby).split(rows)
    return merge_spans(kept), held


def _held_note(held: list[Observation]) -> list[str]:
    kinds = {r.kind for r in held}
    return [withheld_note(len(held), next(iter(kinds)) if len(kinds) == 1 else "")] if held else []


def _sentences(spans: list[Span], main_ids: set[int]) -> list[str]:
    main = [s for s in spans if set(s.ids) & main_ids]
    rest = [s for s in spans if s not in main]
    out: list[str] = []
    for s in main + sorted(rest, key=lambda s: s.start):
        if s.kind == "object":
            out.append(f"{_article(s.label)} was seen at {t(s.start)}" +
                       (f" and stayed until {t(s.end)}." if s.end - s.start > 1.5 else "."))
        elif s.kind == "sound":
            out.append(f"{s.label} was heard at {t(s.start)}.")
        elif s.kind == "text" and s.text:
            out.append(f"The text reads \"{s.text}\".")
        elif s.kind == "speech" and s.text:
            out.append(f"Someone said \"{s.text[:160]}\" at {t(s.start)}.")
        if len(out) >= 5:
            break
    return out


def _severity(base: str, spans: list[Span]) -> Severity:
    level = base
    labels = {s.label.lower() for s in spans if s.kind == "sound"}
    if labels & _CRITICAL_SOUNDS:
        level = "critical"
    elif labels & _WARNING_SOUNDS and _RANK[level] < 1:
        level = "warning"
    return level  # type: ignore[return-value]


def summarize_event(store: TimelineStore, event: Event, reasoner: Reasoner | None = None,
                    before: float = 3.0, after: float = 10.0) -> EventSummary:
    """Summarise a fired trigger from what was perceived around it.

    Args:
        store: the timeline holding the event's observations.
        event: the event (need not be stored yet).
        reasoner: optional model to rephrase the narrative (facts are checked like answers).
        before: seconds of context before the event.
        after: seconds of context after it.
    """
    spans, held = _context(store, event.source_id, event.start - before, event.end + after)
    main_ids = set(event.observation_ids)
    sentences = _sentences(spans, main_ids)
    what = event.payload.get("matched", event.rule) if event.payload else event.rule
    what = redact_text(str(what))
    lead = [] if any(set(s.ids) & main_ids for s in spans) else [f"{what[:1].upper()}{what[1:]} at {t(event.start)}."]
    narrative = " ".join([*lead, *sentences, *_held_note(held)])
    if reasoner is not None:
        from scenewatch.reasoning.query import Query
        from scenewatch.reasoning.read import phrase
        from scenewatch.reasoning.retrieve import Cite, Finding

        finding = Finding(Query(question="Summarise this event.", intent="describe"), True,
                          cites=tuple(Cite(s) for s in spans[:6]))
        narrative = phrase("Summarise this event in the style 'A package was just delivered. The label reads …'",
                           finding, narrative, reasoner, withheld=[r.text for r in held]).text
    ids = tuple(dict.fromkeys([*event.observation_ids, *[s.ids[0] for s in spans[:6]]]))[:20]
    title = redact_text(event.title or f"{event.rule} at {t(event.start)}")
    return EventSummary(title=title[:120], narrative=narrative[:1000],
                        severity=_severity(event.severity, spans), evidence_ids=ids)


@dataclass(frozen=True, slots=True)
class Report:
    """A period summarised across sources."""

    since: float | None
    until: float | None
    sources: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ``--json`` and the API."""
        return {"since": self.since, "until": self.until, "sources": list(self.sources)}


def report(store: TimelineStore, since: float | None = None, until: float | None = None,
           source_id: str | None = None, max_items: int = 12) -> Report:
    """Summarise ``[since, until]`` (media seconds) per source: events with narratives, then highlights.

    Args:
        store: the timeline.
        since: start of the period (``None``: the beginning).
        until: end of the period (``None``: the end).
        source_id: one source, or ``None`` for all.
        max_items: highlights per source (picked like an open question's evidence: salience,
            rarity and recency under the compressed context's token budget).
    """
    from scenewatch.memory.context import select_for_question
    from scenewatch.reasoning.story import narrate

    sources = [s["id"] for s in store.list_sources()] if source_id is None else [source_id]
    out = []
    for sid in sources:
        events = [e for e in store.events(source_id=sid)
                  if (since is None or e.end >= since) and (until is None or e.start <= until)]
        spans, held = _context(store, sid, since if since is not None else -1e12,
                               until if until is not None else 1e12)
        highlights = select_for_question(store, spans, "", limit=max_items)
        story = narrate(spans)  # the same story "what happened?" tells
        out.append({
            "source_id": sid,
            "events": [{"id": e.id, "rule": e.rule, "start": e.start, "end": e.end, "title": redact_text(e.title),
                        "summary": redact_text(e.summary), "severity": e.severity,
                        "evidence_ids": list(e.observation_ids)}
                       for e in events],
            "highlights": [{"start": s.start, "end": s.end, "kind": s.kind, "label": s.label, "text": s.text,
                            "observation_id": s.ids[0], "box": list(s.first_box) if s.first_box else None}
                           for s in highlights],
            "narrative": " ".join([*(x.text for x in story), *_held_note(held)]),
            "story": [{"text": x.text, "start": x.start, "evidence_ids": [c.observation_id for c in x.cites]}
                      for x in story],
            "withheld": len(held),
        })
    return Report(since, until, tuple(out))
