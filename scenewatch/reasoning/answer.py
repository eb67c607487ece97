"""Question answering as a pipeline: guard → plan → retrieve → draft → phrase → guard.

:func:`ask` is the service function the CLI and the API call. Every time span and box in the
answer's evidence comes from the store (:class:`~scenewatch.types.Evidence`), never from a model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError
from scenewatch.memory.context import ContextSettings, build_context
from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.guard import screen_question
from scenewatch.reasoning.planner import plan
from scenewatch.reasoning.query import Query, Subject
from scenewatch.reasoning.read import Reading, by_source, phrase, t
from scenewatch.reasoning.retrieve import (
    Cite,
    CountResult,
    DirectionResult,
    DurationResult,
    Finding,
    MentionResult,
    OrderResult,
    OverviewResult,
    PresenceResult,
    Result,
    Retriever,
    SaidResult,
    TextResult,
    WhenResult,
)
from scenewatch.reasoning.screen import mention_withheld, screen_observations
from scenewatch.reasoning.settings import ReasonerSettings
from scenewatch.reasoning.story import StoryResult
from scenewatch.reasoning.traits import AttributeResult, WhoResult
from scenewatch.spans import Span
from scenewatch.types import Answer, Evidence

if TYPE_CHECKING:
    from scenewatch.memory.vectors import Embedder
    from scenewatch.reasoning.reasoners import Reasoner

log = logging.getLogger(__name__)

FrameOf = Callable[[str, float], "NDArray[np.uint8] | None"]
"""``(source_id, media time) -> RGB frame`` (``None`` when the source cannot show one); the service layer's."""

VL_CONTEXT = ContextSettings(token_budget=300, max_keyframes=0)
"""The compressed recent context a vision-language reasoner gets with an open question: a few hundred tokens."""

_PLURAL = {"person": "people", "bus": "buses", "glass": "glasses", "speech": "speech", "text": "texts"}


def _plural(name: str, n: int) -> str:
    return name if n == 1 else _PLURAL.get(name, name + "s")


def _article(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _is_heard(subject: Subject | None) -> bool:
    return subject is not None and bool(set(subject.kinds) & {"sound", "speech"})


def _span_phrase(s: Span) -> str:
    if s.kind == "speech":
        return f"someone said \"{s.text}\" ({t(s.start)}–{t(s.end)})"
    if s.kind == "text":
        return f"the text \"{s.text}\" was visible ({t(s.start)}–{t(s.end)})"
    if s.kind == "sound":
        return f"{s.label} was heard ({t(s.start)}–{t(s.end)})"
    return f"{_article(s.label)} was seen ({t(s.start)}–{t(s.end)})"


def _not_seen(q: Query, f: Finding) -> str:
    subject = q.subjects[0] if q.subjects else None
    name = subject.name if subject else (q.unresolved[0] if q.unresolved else "that")
    if subject is not None and subject.phrase:
        return f"I did not hear anyone say \"{subject.phrase}\"."
    verb = "hear" if _is_heard(subject) else "see"
    extra = f" ({len(f.ignored)} lower-confidence detection(s) ignored)" if f.ignored else ""
    return f"I did not {verb} {_article(name)}{extra}."


def _name(q: Query) -> str:
    return q.subjects[0].name if q.subjects else "it"


def draft(f: Finding) -> str:
    """The code-written answer: every fact comes from the finding's typed result."""
    return draft_result(f.result, f)


@singledispatch
def draft_result(result: Result, f: Finding) -> str:
    """The sentence for one kind of result; register one function per :class:`Result` subclass."""
    raise TypeError(f"no draft for {type(result).__name__}; register one with @draft_result.register")


@draft_result.register
def _mention(r: MentionResult, f: Finding) -> str:
    if not f.found:
        verb = "No, I" if f.query.polar else "I"
        return f"{verb} did not see or hear {_article(r.term)} (checked {f.checked})."
    return "The only mention of " + r.term + ": " + "; ".join(_span_phrase(c.span) for c in f.cites) + "."


@draft_result.register
def _when(r: WhenResult, f: Finding) -> str:
    q = f.query
    subject = q.subjects[0] if q.subjects else None
    name = _name(q)
    if not f.found or r.time is None:
        return _not_seen(q, f)
    s = f.cites[0].span
    if subject is not None and subject.phrase:
        return f"\"{s.text}\" was said at {t(s.start)} (until {t(s.end)})."
    if q.moment == "last" and r.gone is not None:
        yes = ("No: t" if q.still else "Yes: t") if q.polar else "T"
        return f"{yes}he {name} was taken away at {t(r.gone)} (last seen at {t(r.time)})."
    if q.moment == "last" and q.polar and not _is_heard(subject):
        yes = "Yes, as far as I saw" if q.still else "No"
        return f"{yes}: I did not see the {name} taken away; it was last seen at {t(r.time)}."
    if q.moment == "last":
        arrived = any(getattr(o.payload, "origin", None) == "arrival" for o in s.rows)
        return (f"The {name} was last {'heard' if _is_heard(subject) else 'seen'} at {t(r.time)}"
                + ("; I did not see it taken away." if arrived else "."))
    if s.kind == "speech":
        return f"Speech started at {t(s.start)} (until {t(s.end)}): \"{s.text}\"."
    if s.kind == "sound":
        return f"The {name} was heard at {t(s.start)} (until {t(s.end)})."
    if s.kind == "text" and subject is not None and "object" in subject.kinds:
        return (f"The {name} was first seen at {t(s.start)}, by its label \"{s.text}\" "
                f"(visible until {t(s.end)}; the detector has no {name} class).")
    return f"The {name} was first seen at {t(s.start)} (visible until {t(s.end)})."


@draft_result.register
def _count(r: CountResult, f: Finding) -> str:
    name = _name(f.query)
    if r.n == 0:
        return f"I counted 0 {_plural(name, 0)}."
    times = ", ".join(t(c.span.start) for c in f.cites)
    return f"I counted {r.n} {_plural(name, r.n)} (first seen at {times})."


@draft_result.register
def _duration(r: DurationResult, f: Finding) -> str:
    q = f.query
    if not f.found:
        return _not_seen(q, f)
    spans = ", ".join(f"{t(a)}–{t(b)}" for a, b in r.intervals)
    verb = "lasted" if _is_heard(q.subjects[0] if q.subjects else None) else "was visible for"
    return f"The {_name(q)} {verb} {t(r.seconds)} ({spans})."


@draft_result.register
def _order(r: OrderResult, f: Finding) -> str:
    if r.missing:
        return f"I cannot order them: I did not perceive the {' or the '.join(r.missing)}."
    if not r.order:
        return "I cannot order them: I did not perceive them."
    sequence = ", then ".join(f"the {n} ({t(x)})" for n, x in r.order)
    if f.query.relation is not None:
        yes = "Yes" if r.holds else "No"
        return f"{yes}: {sequence[0].upper()}{sequence[1:]}."
    return f"The {r.order[0][0]} came first: {sequence}."


@draft_result.register
def _presence(r: PresenceResult, f: Finding) -> str:
    if r.present and f.cites:
        s = f.cites[0].span
        if s.kind == "speech":
            return f"Yes: someone said \"{s.text}\" at {t(s.start)}–{t(s.end)}."
        verb = "heard" if s.kind in ("sound", "speech") else "seen"
        return f"Yes: {_article(_name(f.query))} was {verb} at {t(s.start)}–{t(s.end)}."
    return f"No, {_not_seen(f.query, f)[:-1]}; checked {f.checked}."


@draft_result.register
def _text(r: TextResult, f: Finding) -> str:
    q = f.query
    where = f" on the {q.subjects[1].name}" if len(q.subjects) > 1 else ""
    if not f.found:
        return f"I did not read any text{where}."
    parts = [f"\"{c.span.text}\" ({t(c.span.start)}–{t(c.span.end)})" for c in f.cites]
    return f"The text{where} reads " + " and ".join(parts) + "."


@draft_result.register
def _said(r: SaidResult, f: Finding) -> str:
    q = f.query
    subject = q.subjects[0] if q.subjects else None
    if not f.found:
        return _not_seen(q, f) if subject and subject.phrase else "I did not hear any speech."
    parts = [f"\"{c.span.text}\" ({t(c.span.start)}–{t(c.span.end)})" for c in f.cites]
    return "Someone said " + "; then ".join(parts) + "."


@draft_result.register
def _direction(r: DirectionResult, f: Finding) -> str:
    if not f.found:
        return _not_seen(f.query, f)
    s = f.cites[0].span
    return f"The {_name(f.query)} moved {r.direction} ({t(s.start)}–{t(s.end)})."


_DETAIL_WORDS = {"colour": "colour", "direction": "direction", "size": "size", "speed": "speed"}


@draft_result.register
def _attribute(r: AttributeResult, f: Finding) -> str:
    name = _name(f.query)
    if not f.found:
        if f.query.subjects and not f.cites and "not measured" not in f.checked:
            return _not_seen(f.query, f)
        return f"I did not measure the {r.detail} of the {name}."
    s = f.cites[0].span
    when = f"({t(s.start)}–{t(s.end)})"
    if r.detail == "colour":
        more = f" (other {_plural(name, 2)}: {', '.join(r.values[1:])})" if len(r.values) > 1 else ""
        return f"The {name} was {r.values[0]} {when}{more}."
    if r.detail == "direction":
        if r.values[0] in ("did not move", "still"):
            return f"The {name} did not move {when}."
        return f"The {name} moved {r.values[0]} {when}."
    if r.detail == "size":
        return f"The {name} took up {r.values[0]} {when}."
    return f"The {name} moved at about {r.values[0]} {when}."


@draft_result.register
def _who(r: WhoResult, f: Finding) -> str:
    q = f.query
    subject = q.subjects[0] if q.subjects else None
    if subject is None or not _is_heard(subject):
        if not f.found:
            return "I did not see anyone" + (f" with the {subject.name}" if subject else "") + "."
        spans = ", ".join(f"{t(c.span.start)}–{t(c.span.end)}" for c in f.cites)
        if r.names:
            return f"I saw {' and '.join(r.names)} ({spans})."
        return f"I saw {r.people} {_plural('person', r.people)} ({spans}); I cannot tell who they are."
    if not f.found or r.heard_at is None:
        return _not_seen(q, f)
    heard = f"The {subject.name} was heard at {t(r.heard_at)}"
    if r.people == 0:
        return f"{heard}, but I saw nobody within {r.window:g} s of it."
    people = [c.span for c in f.cites[1:]]
    seen = ", ".join(f"{t(p.start)}–{t(p.end)}" for p in people)
    if r.names:
        return f"{heard}; {' and '.join(r.names)} {'was' if len(r.names) == 1 else 'were'} seen around then ({seen})."
    return (f"{heard}; {_article('person') if r.people == 1 else f'{r.people} people'} "
            f"{'was' if r.people == 1 else 'were'} seen around then ({seen}). I cannot tell who it was.")


@draft_result.register
def _story(r: StoryResult, f: Finding) -> str:
    if not f.found:
        return "I did not perceive anything" + (f" about the {_name(f.query)}" if f.query.subjects else "") + \
            " in that time."
    if f.query.intent == "unusual":
        parts = [f"{s.text[:-1]} (seen {n} time{'s' if n != 1 else ''} in this source's history)"
                 for s, n in zip(r.sentences, r.counts, strict=True)]
        return "The least usual: " + "; ".join(p[0].lower() + p[1:] for p in parts) + "."
    return " ".join(s.text for s in r.sentences)


@draft_result.register
def _overview(r: OverviewResult, f: Finding) -> str:
    q = f.query
    if not f.found:
        return "I did not perceive anything" + (f" matching {_name(q)}" if q.subjects else "") + " in that time."
    text = "; ".join(_span_phrase(c.span) for c in f.cites)
    prefix = "I perceived: " if q.intent == "what" else "In order: "
    return prefix + text[0].upper() + text[1:] + "."


def _wall_scope(store: TimelineStore, query: Query) -> tuple[Query, str]:
    """Drop a wall-clock range when no source in scope keeps wall-clock times, with a note saying so."""
    if query.wall_since is None:
        return query, ""
    scope = [query.source_id] if query.source_id else list(query.sources)
    sql = "SELECT 1 FROM observations WHERE wall_start IS NOT NULL"
    if scope:
        sql += f" AND source_id IN ({','.join('?' * len(scope))})"
    if store.execute(sql + " LIMIT 1", scope):
        return query, ""
    then = replace(query.then, wall_since=None, wall_until=None, wall_phrase="") if query.then is not None else None
    note = f"(No source asked about keeps wall-clock times, so \"{query.wall_phrase}\" was not applied.)"
    return replace(query, then=then, wall_since=None, wall_until=None, wall_phrase=""), note


def to_evidence(cites: tuple[Cite, ...]) -> tuple[Evidence, ...]:
    """Evidence records, with times and boxes filled from the store's spans."""
    out: list[Evidence] = []
    seen: set[int] = set()
    for c in cites:
        oid = c.observation_id
        if oid in seen:
            continue
        seen.add(oid)
        s = c.span
        out.append(Evidence(observation_id=oid, kind=s.kind, start=round(s.start, 3), end=round(s.end, 3), box=c.box,
                            source_id=s.source_id, wall_start=s.wall_start,
                            snippet=s.text[:120] if s.text else s.label))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AskResult:
    """An answer with how it was reached (for ``--json`` and benchmarks)."""

    answer: Answer
    query: Query | None = None
    by_model: bool = False
    seconds: float = 0.0
    withheld: int = 0
    findings: tuple[Finding, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """``{"answer", "evidence": [{start, end, kind, box, observation_id, …}], …}``."""
        evidence = []
        for e in self.answer.evidence:
            item: dict[str, Any] = {"start": e.start, "end": e.end, "kind": e.kind,
                                    "box": list(e.box) if e.box else None, "observation_id": e.observation_id,
                                    "source_id": e.source_id, "snippet": e.snippet}
            if e.wall_start is not None:
                item["wall_start"] = e.wall_start
            evidence.append(item)
        return {"answer": self.answer.text, "evidence": evidence, "refused": self.answer.refused,
                "intent": self.query.intent if self.query else None, "phrased_by_model": self.by_model,
                "withheld": self.withheld}


def newest_cite(cites: tuple[Cite, ...]) -> Cite | None:
    """The cited span that starts last (its start is the "newest cited evidence time")."""
    return max(cites, key=lambda c: (c.span.start, c.observation_id), default=None)


def look(store: TimelineStore, question: str, query: Query, finding: Finding, frame_of: FrameOf | None,
         embedder: Embedder | None = None,
         context: ContextSettings = VL_CONTEXT) -> tuple[tuple[NDArray[np.uint8], ...], str]:
    """What a vision-language reasoner sees beside the evidence of an open question.

    The frame at the newest cited evidence time of that evidence's source (none when ``frame_of``
    cannot show one) and the compressed context (:func:`~scenewatch.memory.context.build_context`)
    of the asked window of that source, ending at the asked window's end (else its newest row).
    """
    newest = newest_cite(finding.cites)
    if newest is None:
        return (), ""
    sid, at = newest.span.source_id, newest.span.start
    frame = None
    if frame_of is not None:
        try:
            frame = frame_of(sid, at)
        except ScenewatchError as exc:  # no frame costs the picture, not the answer
            log.info("no frame of %s at %.2f s for the reasoner: %s", sid, at, exc)
    settings = context
    if query.since is not None and query.until is not None and query.until > query.since:
        settings = replace(context, minutes=(query.until - query.since) / 60.0)
    until = query.until
    if until is None:
        until = float(store.execute('SELECT MAX("end") FROM observations WHERE source_id = ?', (sid,))[0][0] or 0.0)
    try:
        built = build_context(store, question, source_id=sid, until=until, embedder=embedder, settings=settings)
    except ScenewatchError as exc:  # e.g. an embedder that does not match the index: rank by words
        log.info("context ranked without the embedder: %s", exc)
        built = build_context(store, question, source_id=sid, until=until, settings=settings)
    # scene text that reads as instructions never reaches a prompt, in the context either
    window = store.observations(source_id=sid, since=until - settings.minutes * 60.0, until=until)
    withheld = set(screen_observations(window).withheld)
    text = "\n".join(line.text for line in built.lines if not withheld & set(line.observation_ids))
    return ((frame,) if frame is not None else ()), text


def ask(store: TimelineStore, question: str, *, source_id: str | None = None, reasoner: Reasoner | None = None,
        settings: ReasonerSettings | None = None, embedder: Embedder | None = None,
        now: float | None = None, frame_of: FrameOf | None = None) -> AskResult:
    """Answer ``question`` from the timeline.

    Args:
        store: the timeline.
        question: the user's question.
        source_id: restrict to one source (``None``: the whole store).
        reasoner: language model for fallback planning and phrasing (``None``: rules and code only).
        settings: reasoning settings (confidence threshold, merge gap, when the model phrases).
        embedder: the configured embedder (the service layer hands it in): open questions pick
            their evidence by embedding relevance to the question, else by shared words.
        now: the clock wall-clock ranges ("this morning") are read against (``None``: the system clock).
        frame_of: decodes a source's frame at a media time (the service layer hands it in): a
            reasoner that accepts images phrases open questions seeing the frame at the newest
            cited evidence time and the compressed recent context (:func:`look`).

    Returns:
        The answer with evidence; ``answer.refused`` for questions the guard refuses.
    """
    settings = settings or ReasonerSettings()
    t0 = time.perf_counter()
    verdict = screen_question(question)
    if verdict.flagged:
        return AskResult(Answer(text=verdict.reason, refused=True), seconds=time.perf_counter() - t0)
    retriever = Retriever(store, min_confidence=settings.min_confidence, merge_gap=settings.merge_gap,
                          embedder=embedder, meaning_threshold=settings.meaning_threshold)
    sources = [] if source_id else [(str(s["id"]), str(s["uri"])) for s in store.list_sources()]
    query = plan(question[:500], retriever.vocabulary(source_id), source_id=source_id, reasoner=reasoner,
                 sources=sources, now=now)
    query, note = _wall_scope(store, query)
    parts: list[Query] = [query] if query.then is None else [replace(query, then=None), query.then]
    readings: list[Reading] = []
    findings: list[Finding] = []
    for part in parts:
        finding = retriever.retrieve(part)
        findings.append(finding)
        held = finding.withheld_rows
        text = mention_withheld(draft(finding), finding.found, part.intent, held)
        sees = bool(getattr(reasoner, "accepts_images", False))
        # a story is open too for a vision-language reasoner: it phrases it seeing the frame
        is_open = finding.result.open_ended or part.planner == "model" or (sees and isinstance(finding.result,
                                                                                                StoryResult))
        use_model = reasoner is not None and (
            settings.phrase == "always" or (settings.phrase == "open" and is_open))
        images: tuple[NDArray[np.uint8], ...] = ()
        context = ""
        if use_model and is_open and sees:
            images, context = look(store, question, part, finding, frame_of, embedder)
        readings.append(phrase(question, finding, text, reasoner if use_model else None,
                               max_tokens=settings.max_tokens, withheld=[r.text for r in held],
                               images=images, context=context)
                        if use_model else Reading(text, finding.cites))
    cites = tuple(c for r in readings for c in r.cites)
    several = query.source_id is None and len(sources) > 1  # the whole store was asked
    text = " ".join([r.text for r in readings] + [x for x in (by_source(cites, several), note) if x])
    answer = Answer(text=text, evidence=to_evidence(cites))
    return AskResult(answer, query=query, by_model=any(r.by_model for r in readings),
                     seconds=time.perf_counter() - t0, withheld=sum(f.withheld for f in findings),
                     findings=tuple(findings))
