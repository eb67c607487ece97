"""The trigger engine: cheap rules over the observation stream that fire :class:`Event` values.

The pipeline runner calls :meth:`TriggerEngine.on_observations` after each commit with the rows
just written (new or grown). Per rule and source the engine keeps presence runs (rows of one
track, or one label, merged across gaps up to ``merge_gap``), the pending first steps of
sequences and the time of the last firing (cooldown). Each run fires at most once
(de-duplication); absence fires once per run that has been gone ``absent_for`` seconds.

With a store, each event is stored (``store.add_event``) with a code-written summary and its
actions are queued in the outbox in the same call, so the runner must not add it again; the
returned events carry their ids. Nothing here reads model output: actions come only from rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.screen import redact_text
from scenewatch.triggers.actions import ActionDispatcher
from scenewatch.triggers.rules import Matcher
from scenewatch.triggers.settings import RuleSettings, TriggerSettings
from scenewatch.types import Event, Observation

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Run:
    start: float
    last_end: float
    ids: list[int] = field(default_factory=list)
    label: str = ""
    fired: bool = False
    gone_fired: bool = False


@dataclass(slots=True)
class _State:
    now: float = 0.0
    runs: dict[tuple[object, ...], _Run] = field(default_factory=dict)
    pending: list[tuple[float, int, str]] = field(default_factory=list)
    last_fire: float | None = None
    count_latched: bool = False


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its matchers."""

    settings: RuleSettings
    first: Matcher
    then: Matcher | None


def compile_rules(rules: Sequence[RuleSettings]) -> list[CompiledRule]:
    """Compile rule settings into matchers."""
    return [CompiledRule(r, Matcher.from_settings(r), Matcher.from_settings(r.then) if r.then else None)
            for r in rules]


class TriggerEngine:
    """Evaluates rules on observations as they are committed.

    Args:
        settings: trigger settings (rules, merge gap, delivery), or a list of rules.
        store: when given, events are stored with summaries and actions queued in its outbox.
        dispatcher: action dispatcher (default: one over ``store``).
    """

    def __init__(self, settings: TriggerSettings | Sequence[RuleSettings], store: TimelineStore | None = None,
                 dispatcher: ActionDispatcher | None = None) -> None:
        self.settings = settings if isinstance(settings, TriggerSettings) else TriggerSettings(rules=list(settings))
        self.rules = compile_rules(self.settings.rules)
        self.store = store
        self.dispatcher = dispatcher or ActionDispatcher(store, self.settings)
        self._state: dict[tuple[int, str], _State] = {}

    # ------------------------------------------------------------------ streaming
    def on_observations(self, observations: Iterable[Observation]) -> list[Event]:
        """Evaluate every rule on newly committed (or grown) rows; return the events that fired."""
        rows = sorted(observations, key=lambda o: (o.start, o.id or 0))
        events: list[Event] = []
        for index, rule in enumerate(self.rules):
            try:
                events.extend(self._evaluate(index, rule, rows))
            except Exception:  # one broken rule must never stop the pipeline
                log.exception("trigger rule %r failed", rule.settings.name)
        emitted = [self._emit(e) for e in sorted(events, key=lambda e: (e.start, e.rule))]
        return [e for e, new in emitted if new]

    def replay(self, source_id: str) -> list[Event]:
        """Rebuild a source's rule state (runs, de-duplication, cooldown, sequences) from its stored rows.

        Called before a run resumes the source, so the state a killed run held in memory comes
        back from the rows it committed; an event that run fired but did not store is stored now.
        Events are keyed by (rule, source, start), so replaying stores nothing twice.

        Returns:
            Events that were missing from the store.
        """
        if self.store is None:
            return []
        self._state = {k: v for k, v in self._state.items() if k[1] != source_id}
        return self.on_observations(self.store.observations(source_id=source_id))

    def advance(self, source_id: str, media_time: float) -> list[Event]:
        """Move a source's clock forward without rows (absence rules fire on silence too)."""
        events: list[Event] = []
        for index, rule in enumerate(self.rules):
            if rule.settings.absent_for is not None:
                state = self._state.setdefault((index, source_id), _State())
                state.now = max(state.now, media_time)
                events.extend(self._absences(rule, state, source_id))
        return [e for e, new in (self._emit(e) for e in events) if new]

    def _evaluate(self, index: int, rule: CompiledRule, rows: Sequence[Observation]) -> list[Event]:
        s = rule.settings
        gap = self.settings.merge_gap
        events: list[Event] = []
        touched: set[str] = set()
        for o in rows:
            if s.sources and o.source_id not in s.sources:
                continue
            state = self._state.setdefault((index, o.source_id), _State())
            # a row's start is surely past; its end may be a span still being spoken
            state.now = max(state.now, o.start)
            touched.add(o.source_id)
            if rule.then is not None and rule.then.matches(o):
                first = next((p for p in reversed(state.pending) if 0 <= o.start - p[0] <= s.within), None)
                if first is not None:
                    state.pending.clear()
                    ev = self._fire(s, state, o.source_id, first[0], o.end, [first[1], o.id or 0],
                                    f"{first[2]} then {o.label or o.kind}")
                    if ev:
                        events.append(ev)
            if not rule.first.matches(o):
                continue
            if rule.then is not None:
                state.pending = [p for p in state.pending if o.start - p[0] <= s.within] + [
                    (o.start, o.id or 0, o.label or redact_text(o.text)[:30] or o.kind)]
                continue
            key = ("track", o.track_id) if o.kind == "object" and o.track_id is not None else ("label", o.label.lower())
            run = state.runs.get(key)
            if run is None or o.start - run.last_end > gap:
                run = state.runs[key] = _Run(o.start, o.end, [], o.label or o.kind)
            run.last_end = max(run.last_end, o.end)
            if o.id is not None and o.id not in run.ids:
                run.ids.append(o.id)
            if s.absent_for is None:
                ev = self._presence(s, state, o.source_id, run)
                if ev:
                    events.append(ev)
        if s.absent_for is not None:
            for source_id in touched:
                events.extend(self._absences(rule, self._state[(index, source_id)], source_id))
        return events

    def _presence(self, s: RuleSettings, state: _State, source_id: str, run: _Run) -> Event | None:
        if run.last_end - run.start < s.min_duration:
            return None
        if s.min_count <= 1:
            if run.fired:
                return None
            run.fired = True
            return self._fire(s, state, source_id, run.start, run.last_end, run.ids, run.label)
        gap = self.settings.merge_gap
        active = [r for r in state.runs.values()
                  if state.now - r.last_end <= gap and r.last_end - r.start >= s.min_duration]
        if len(active) < s.min_count:
            state.count_latched = False
            return None
        if state.count_latched:
            return None
        state.count_latched = True
        ids = [i for r in active for i in r.ids[:1]]
        return self._fire(s, state, source_id, max(r.start for r in active), state.now, ids,
                          f"{len(active)} × {run.label}")

    def _absences(self, rule: CompiledRule, state: _State, source_id: str) -> list[Event]:
        s = rule.settings
        assert s.absent_for is not None
        events = []
        for run in state.runs.values():
            if run.gone_fired or run.last_end - run.start < s.min_duration:
                continue
            if state.now - run.last_end >= s.absent_for:
                run.gone_fired = True
                ev = self._fire(s, state, source_id, run.last_end, state.now, run.ids[-1:], f"{run.label} gone")
                if ev:
                    events.append(ev)
        return events

    def _fire(self, s: RuleSettings, state: _State, source_id: str, start: float, end: float,
              ids: Sequence[int], what: str) -> Event | None:
        if state.last_fire is not None and start - state.last_fire < s.cooldown:
            log.debug("rule %s suppressed by cooldown at %.1f s", s.name, start)
            return None
        state.last_fire = start
        return Event(rule=s.name, source_id=source_id, start=start, end=max(start, end),
                     observation_ids=tuple(i for i in ids if i)[:50], title=f"{s.name}: {what}",
                     severity=s.severity, payload={"matched": what})

    # -------------------------------------------------------------------- output
    def _emit(self, event: Event) -> tuple[Event, bool]:
        """Store the event and queue its actions; ``(event, whether it was new)``.

        An event already stored (same rule, source and start: a resumed or repeated run) keeps
        its row; its actions are queued again, which the outbox ignores unless a crash lost them.
        """
        if self.store is None:
            self.dispatcher.run_unqueued(event, self._rule(event.rule))
            return event, True
        known = self.store.event_id(event)
        if known is None:
            try:
                from scenewatch.reasoning.summary import summarize_event

                summary = summarize_event(self.store, event)
                event = replace(event, title=summary.title, summary=summary.narrative, severity=summary.severity)
            except Exception:  # a summary is a nicety; the event must still be stored
                log.exception("summary for %s failed", event.rule)
        event = replace(event, id=known if known is not None else self.store.add_event(event))
        try:
            self.dispatcher.enqueue(event, self._rule(event.rule))
        except Exception:
            log.exception("queueing actions for %s failed", event.rule)
        return event, known is None

    def _rule(self, name: str) -> RuleSettings:
        return next(r.settings for r in self.rules if r.settings.name == name)
