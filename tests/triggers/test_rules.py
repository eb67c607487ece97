"""Rules fire on the synthetic scenes where the truth says, once each."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from scenewatch.errors import ConfigError
from scenewatch.memory.store import TimelineStore
from scenewatch.triggers.engine import TriggerEngine
from scenewatch.triggers.rules import rule_from_phrase
from scenewatch.triggers.settings import RuleSettings, StepSettings
from scenewatch.types import Event, Observation, SourceInfo
from synth import build_scene

FIXTURE = Path(__file__).parents[1] / "fixtures" / "scene" / "scene.json"


def _stream(store: TimelineStore | None, engine: TriggerEngine, name: str, step: float = 1.0,
            extra: list[Observation] | None = None) -> list[Event]:
    """Feed a scene's rows to the engine in commit batches, as the runner would."""
    scene = build_scene(name)
    truth = scene.truth
    rows = list(scene.observations) + (extra or [])
    if store is not None:
        store.upsert_source(SourceInfo(id=truth.source_id, uri="synth://" + name, kind="file"))
    events: list[Event] = []
    t = 0.0
    while t < truth.duration + step:
        batch = [o for o in rows if t <= o.start < t + step]
        ids = store.commit_batch(batch) if store is not None else list(range(len(batch)))
        events += engine.on_observations([replace(o, id=i) for o, i in zip(batch, ids, strict=True)])
        t += step
    return events + engine.advance(truth.source_id, truth.duration + 10)


def test_doorbell_fires_once_within_2s_of_truth(tmp_path: Path) -> None:
    truth = json.loads(FIXTURE.read_text())["sound_events"][0]["start"]
    store = TimelineStore(tmp_path / "t.db")
    engine = TriggerEngine([rule_from_phrase("doorbell")], store)
    events = _stream(store, engine, "front_door")
    assert len(events) == 1 and abs(events[0].start - truth) <= 2.0
    stored = store.events()
    assert [e.id for e in stored] == [events[0].id]
    assert "Doorbell" in stored[0].summary and stored[0].title


def test_presence_duration_count_zone_sequence_absence() -> None:
    rules = [
        rule_from_phrase("package for 3 s"),
        rule_from_phrase("package gone"),
        rule_from_phrase("doorbell then speech within 10 s"),
        rule_from_phrase("doorbell then person within 30 s"),
        rule_from_phrase('text "PRIORITY"'),
        rule_from_phrase('someone says "fellow Americans"'),
        RuleSettings(name="left-half", kind="object", label="package", zone=(0, 0, 320, 360)),
    ]
    events = {e.rule: e for e in _stream(None, TriggerEngine(rules), "front_door")}
    assert abs(events["package-for-3-s"].start - 8.04) <= 1.0 and events["package-for-3-s"].end >= 11.0
    assert 25.0 - 1 <= events["package-gone"].start + 5.0 <= 25.0 + 1.5, "gone at 20 s, fires 5 s later"
    seq = events["doorbell-then-speech-within-10-s"]
    assert abs(seq.start - 12.0) <= 0.5 and abs(seq.end - 22.36) <= 0.5
    assert "doorbell-then-person-within-30-s" not in events, "nobody came"
    assert abs(events["text-priority"].start - 8.8) <= 1.0
    assert abs(events["someone-says-fellow-americans"].start - 15.13) <= 0.5
    assert "left-half" not in events, "the package rests on the right"


def test_count_threshold_fires_when_tracks_overlap() -> None:
    events = _stream(None, TriggerEngine([rule_from_phrase("3 people"), rule_from_phrase("at least 2 persons")]),
                     "office")
    by_rule = {e.rule: e for e in events}
    assert abs(by_rule["3-people"].start - 20.0) <= 1.0
    assert abs(by_rule["at-least-2-persons"].start - 10.0) <= 1.0
    assert len(events) == 2


def test_cooldown_and_dedup() -> None:
    rule = RuleSettings(name="person", kind="object", label="person", cooldown=10.0)
    events = _stream(None, TriggerEngine([rule]), "driveway")
    assert [round(e.start) for e in events] == [10, 25], "one event per person, none twice"
    engine = TriggerEngine([RuleSettings(name="p", kind="object", label="person", cooldown=60.0)])
    assert len(_stream(None, engine, "driveway")) == 1, "second person within the cooldown"
    rows = list(build_scene("driveway").observations)
    once = TriggerEngine([rule])
    first = once.on_observations([replace(o, id=i) for i, o in enumerate(rows)])
    again = once.on_observations([replace(o, id=i) for i, o in enumerate(rows)])
    assert len(first) == 2 and again == [], "re-sent rows fire nothing"


def test_low_confidence_distractors_fire_nothing() -> None:
    events = _stream(None, TriggerEngine([rule_from_phrase("dog"), rule_from_phrase("cat")]), "front_door")
    assert events == []


def test_phrase_compiler_forms() -> None:
    assert rule_from_phrase("person for 3 s").min_duration == 3.0
    assert rule_from_phrase("more than 2 cars").min_count == 3
    r = rule_from_phrase("package gone for 1 min")
    assert r.absent_for == 60.0 and r.concept == "package"
    r = rule_from_phrase('someone says "help"')
    assert (r.kind, r.text) == ("speech", "help")
    r = rule_from_phrase("doorbell then person within 30 s")
    assert r.then == StepSettings(kind="object", labels=["person"]) and r.within == 30.0
    with pytest.raises(ConfigError):
        rule_from_phrase("!!!")


@pytest.mark.parametrize(
    ("phrase", "kind", "text"),
    [("PRIORITY MAIL", "text", "PRIORITY MAIL"), ("text contains PRIORITY", "text", "PRIORITY"),
     ('label reads "FRAGILE"', "text", "FRAGILE"), ("someone says 'help'", "speech", "help")],
)
def test_text_and_speech_phrases(phrase: str, kind: str, text: str) -> None:
    rule = rule_from_phrase(phrase)
    assert (rule.kind, rule.text) == (kind, text)


def test_package_also_fires_on_its_shipping_label() -> None:
    from scenewatch.triggers.engine import TriggerEngine
    from scenewatch.triggers.rules import rules_from_phrases
    from scenewatch.types import Observation

    rules = rules_from_phrases(["package"])
    assert [r.name for r in rules] == ["package", "package-label"]
    assert rules[1].kind == "text" and "PRIORITY MAIL" in (rules[1].text or "").split("|")
    engine = TriggerEngine(rules)
    label = Observation(kind="text", source_id="cam", start=8.2, end=9.0, text="PRIORITY MAIL", confidence=0.9, id=1)
    sign = Observation(kind="text", source_id="cam", start=3.0, end=4.0, text="EXIT", confidence=0.9, id=2)
    fired = engine.on_observations([sign, label])
    assert [(e.rule, e.start) for e in fired] == [("package-label", 8.2)]
