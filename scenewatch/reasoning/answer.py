"""Question answering as a pipeline: guard → plan → retrieve → draft → phrase → guard.

:func:`ask` is the service function the CLI and the API call. Every time span and box in the
answer's evidence comes from the store (:class:`~scenewatch.types.Evidence`), never from a model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.guard import screen_question
from scenewatch.reasoning.planner import plan
from scenewatch.reasoning.query import Query, Subject
from scenewatch.reasoning.read import Reading, phrase, t
from scenewatch.reasoning.retrieve import Cite, Finding, Retriever, Span
from scenewatch.reasoning.settings import ReasonerSettings
from scenewatch.types import Answer, Evidence

if TYPE_CHECKING:
    from scenewatch.reasoning.reasoners import Reasoner

log = logging.getLogger(__name__)

_PLURAL = {"person": "people", "bus": "buses", "glass": "glasses", "speech": "speech", "text": "texts"}
_OPEN_INTENTS = {"what", "describe"}


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


def draft(f: Finding) -> str:
    """The code-written answer: every fact comes from the finding."""
    q = f.query
    subject = q.subjects[0] if q.subjects else None
    name = subject.name if subject else "it"
    if q.unresolved and not q.subjects:
        if not f.found:
            verb = "No, I" if q.polar else "I"
            return f"{verb} did not see or hear {_article(q.unresolved[0])} (checked {f.checked})."
        return "The only mention of " + q.unresolved[0] + ": " + "; ".join(_span_phrase(c.span) for c in f.cites) + "."
    if q.intent == "when":
        if not f.found:
            return _not_seen(q, f)
        s = f.cites[0].span
        if subject is not None and subject.phrase:
            return f"\"{s.text}\" was said at {t(s.start)} (until {t(s.end)})."
        if q.moment == "last":
            return f"The {name} was last {'heard' if _is_heard(subject) else 'seen'} at {t(f.value)}."
        if s.kind == "speech":
            return f"Speech started at {t(s.start)} (until {t(s.end)}): \"{s.text}\"."
        if s.kind == "sound":
            return f"The {name} was heard at {t(s.start)} (until {t(s.end)})."
        if s.kind == "text" and subject is not None and "object" in subject.kinds:
            return (f"The {name} was first seen at {t(s.start)}, by its label \"{s.text}\" "
                    f"(visible until {t(s.end)}; the detector has no {name} class).")
        return f"The {name} was first seen at {t(s.start)} (visible until {t(s.end)})."
    if q.intent == "count":
        n = int(f.value or 0)
        if n == 0:
            return f"I counted 0 {_plural(name, 0)}."
        times = ", ".join(t(c.span.start) for c in f.cites)
        return f"I counted {n} {_plural(name, n)} (first seen at {times})."
    if q.intent == "duration":
        if not f.found:
            return _not_seen(q, f)
        spans = ", ".join(f"{t(a)}–{t(b)}" for a, b in f.extra.get("intervals", []))
        verb = "lasted" if _is_heard(subject) else "was visible for"
        return f"The {name} {verb} {t(f.value)} ({spans})."
    if q.intent == "order":
        order = f.value or []
        missing = f.extra.get("missing", [])
        if missing:
            return f"I cannot order them: I did not perceive the {' or the '.join(missing)}."
        sequence = ", then ".join(f"the {n} ({t(x)})" for n, x in order)
        if q.relation is not None:
            yes = "Yes" if f.extra.get("holds") else "No"
            return f"{yes}: {sequence[0].upper()}{sequence[1:]}."
        first = order[0][0]
        return f"The {first} came first: {sequence}."
    if q.intent == "yes-no":
        if f.found:
            s = f.cites[0].span
            verb = "heard" if s.kind in ("sound", "speech") else "seen"
            return f"Yes: {_article(name)} was {verb} at {t(s.start)}–{t(s.end)}."
        return f"No, {_not_seen(q, f)[:-1]}; checked {f.checked}."
    if q.intent == "what-text":
        if not f.found:
            return "I did not read any text" + (f" on the {q.subjects[1].name}" if len(q.subjects) > 1 else "") + "."
        where = f" on the {q.subjects[1].name}" if len(q.subjects) > 1 else ""
        parts = [f"\"{c.span.text}\" ({t(c.span.start)}–{t(c.span.end)})" for c in f.cites]
        return f"The text{where} reads " + " and ".join(parts) + "."
    if q.intent == "what-said":
        if not f.found:
            return _not_seen(q, f) if subject and subject.phrase else "I did not hear any speech."
        parts = [f"\"{c.span.text}\" ({t(c.span.start)}–{t(c.span.end)})" for c in f.cites]
        return "Someone said " + "; then ".join(parts) + "."
    if q.intent == "what" and q.detail == "direction":
        if not f.found:
            return _not_seen(q, f)
        s = f.cites[0].span
        return f"The {name} moved {f.value} ({t(s.start)}–{t(s.end)})."
    if not f.found:
        return "I did not perceive anything" + (f" matching {name}" if subject else "") + " in that time."
    text = "; ".join(_span_phrase(c.span) for c in f.cites)
    prefix = "I perceived: " if q.intent == "what" else "In order: "
    return prefix + text[0].upper() + text[1:] + "."


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


def ask(store: TimelineStore, question: str, *, source_id: str | None = None, reasoner: Reasoner | None = None,
        settings: ReasonerSettings | None = None) -> AskResult:
    """Answer ``question`` from the timeline.

    Args:
        store: the timeline.
        question: the user's question.
        source_id: restrict to one source (``None``: the whole store).
        reasoner: language model for fallback planning and phrasing (``None``: rules and code only).
        settings: reasoning settings (confidence threshold, merge gap, when the model phrases).

    Returns:
        The answer with evidence; ``answer.refused`` for questions the guard refuses.
    """
    settings = settings or ReasonerSettings()
    t0 = time.perf_counter()
    verdict = screen_question(question)
    if verdict.flagged:
        return AskResult(Answer(text=verdict.reason, refused=True), seconds=time.perf_counter() - t0)
    retriever = Retriever(store, min_confidence=settings.min_confidence, merge_gap=settings.merge_gap)
    query = plan(question[:500], retriever.vocabulary(source_id), source_id=source_id, reasoner=reasoner)
    parts: list[Query] = [query] if query.then is None else [replace(query, then=None), query.then]
    readings: list[Reading] = []
    findings: list[Finding] = []
    for part in parts:
        finding = retriever.retrieve(part)
        findings.append(finding)
        text = draft(finding)
        use_model = reasoner is not None and (
            settings.phrase == "always" or (settings.phrase == "open" and
                                            (part.intent in _OPEN_INTENTS or part.planner == "model")))
        readings.append(phrase(question, finding, text, reasoner if use_model else None,
                               max_tokens=settings.max_tokens) if use_model else Reading(text, finding.cites))
    text = " ".join(r.text for r in readings)
    cites = tuple(c for r in readings for c in r.cites)
    answer = Answer(text=text, evidence=to_evidence(cites))
    return AskResult(answer, query=query, by_model=any(r.by_model for r in readings),
                     seconds=time.perf_counter() - t0, withheld=sum(f.withheld for f in findings),
                     findings=tuple(findings))
