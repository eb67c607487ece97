"""The four disagreements of issue #16, each as behaviour on rows: phone, van, box, Bell → doorbell."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scenewatch.memory.store import TimelineStore
from scenewatch.payloads import ObjectPayload
from scenewatch.perception.concepts import ConceptMapper, StageName
from scenewatch.reasoning.answer import ask
from scenewatch.reasoning.planner import plan
from scenewatch.triggers.engine import TriggerEngine
from scenewatch.triggers.rules import rules_from_phrases
from scenewatch.types import Observation, SourceInfo
from scenewatch.vocabulary import audioset

STAGES: tuple[StageName, ...] = ("objects", "arrivals", "sounds", "text", "speech")


def watch(word: str) -> set[tuple[str, str]]:
    """What ``watch --for WORD`` looks for with the embedded COCO detector and YAMNet labels."""
    mapper = ConceptMapper(stages=STAGES, sound_vocabulary=audioset.labels(), use_embeddings=False)
    (m,) = mapper.map([word]).mappings
    return {(t.stage, t.label) for t in m.targets}


def fired(word: str, rows: list[Observation]) -> list[str]:
    engine = TriggerEngine(rules_from_phrases([word]))
    events = engine.on_observations([replace(o, id=i + 1) for i, o in enumerate(rows)])
    return [e.rule for e in events + engine.advance("cam", 1000.0)]


def obj(label: str, start: float, end: float, track: int, **payload: float | str) -> Observation:
    return Observation("object", "cam", start, end, label, confidence=0.8, box=(10, 10, 50, 50), track_id=track,
                       payload=ObjectPayload(**payload))


def sound(label: str, start: float, end: float) -> Observation:
    return Observation("sound", "cam", start, end, label, confidence=0.7)


def store_with(tmp_path: Path, rows: list[Observation]) -> TimelineStore:
    store = TimelineStore(tmp_path / "t.db")
    store.upsert_source(SourceInfo(id="cam", uri="file:///cam.mp4", kind="file"))
    store.commit_batch(rows)
    return store


def test_phone_is_the_phone_you_see_and_the_one_you_hear(tmp_path: Path) -> None:
    assert ("objects", "cell phone") in watch("phone") and ("sounds", "Ringtone") in watch("phone")
    assert fired("phone", [obj("cell phone", 4.0, 6.0, 1)]) == ["phone"]
    assert fired("phone", [sound("Ringtone", 9.0, 11.0)]) == ["phone"]
    with store_with(tmp_path, [obj("cell phone", 4.0, 6.0, 1), sound("Ringtone", 9.0, 11.0)]) as store:
        seen = ask(store, "When did I see the phone?", source_id="cam").answer
        assert "4.0 s" in seen.text, seen.text
        heard = ask(store, "When did the phone ring?", source_id="cam").answer
        assert "9.0 s" in heard.text, heard.text


def test_van_is_a_car_or_a_truck_everywhere() -> None:
    assert {("objects", "car"), ("objects", "truck")} <= watch("van")
    assert fired("van", [obj("car", 2.0, 5.0, 1)]) == ["van"]
    assert fired("delivery van", [obj("truck", 2.0, 5.0, 1)]) == ["delivery-van"]
    (subject,) = plan("when did the van arrive?").subjects
    assert subject.admits(obj("car", 0, 1, 1)) and subject.admits(obj("truck", 0, 1, 2))
    assert not subject.admits(obj("bus", 0, 1, 3))


def test_box_is_an_arrival_at_rest_plus_its_label(tmp_path: Path) -> None:
    watched = watch("box")
    assert ("arrivals", "object") in watched and ("text", "PRIORITY MAIL") in watched
    resting = obj("object", 8.0, 20.0, 7, origin="arrival", dwell=12.0)
    passing = obj("object", 3.0, 4.0, 8, origin="arrival", dwell=1.0)
    assert fired("box", [passing]) == []
    assert fired("box", [passing, resting]) == ["box"]
    label = Observation("text", "cam", 9.0, 10.0, "text", text="PRIORITY MAIL", confidence=0.9)
    assert fired("box", [label]) == ["box-label"]
    with store_with(tmp_path, [passing, resting]) as store:
        answer = ask(store, "When did the box arrive?", source_id="cam").answer
        assert "8.0 s" in answer.text and "3.0 s" not in answer.text, answer.text
    for phrase in ("package", "parcel", "bag", "something left at the door"):
        assert fired(phrase, [resting]), phrase


def test_a_bell_fires_the_doorbell_rule() -> None:
    assert ("sounds", "Bell") in watch("doorbell")
    assert fired("doorbell", [sound("Bell", 12.0, 13.0)]) == ["doorbell"]
    assert fired("doorbell", [sound("Ding-dong", 12.0, 13.0)]) == ["doorbell"]
    assert fired("doorbell", [sound("Church bell", 12.0, 13.0)]) == [], "a church bell is no doorbell"
    (subject,) = plan("when did the doorbell ring?").subjects
    assert subject.admits(sound("Bell", 0, 1))
