"""Retrieval answers every benchmark question from the store, with valid evidence (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.answer import ask, draft_result
from scenewatch.reasoning.query import INTENTS
from scenewatch.reasoning.retrieve import (
    OPERATORS,
    CountResult,
    DirectionResult,
    DurationResult,
    MentionResult,
    OrderResult,
    OverviewResult,
    PresenceResult,
    Result,
    SaidResult,
    TextResult,
    WhenResult,
)
from scenewatch.reasoning.story import StoryResult
from scenewatch.reasoning.traits import AttributeResult, WhoResult
from scenewatch.spans import merge_spans
from scenewatch.types import Observation
from synth import SCENES, build_scene, load_scene
from synth.questions import questions, score

FIXTURE = Path(__file__).parents[1] / "fixtures" / "scene" / "scene.json"


@pytest.mark.parametrize("q", questions(), ids=lambda q: q.text)
def test_question_answered_from_truth(scene_store: TimelineStore, q) -> None:
    result = ask(scene_store, q.text, source_id=SCENES[q.scene]().source_id)
    cited = [(e.start, e.end) for e in result.answer.evidence]
    assert score(result.answer.text, q.expect, cited), result.answer.text
    for e in result.answer.evidence:
        row = scene_store.get_observation(e.observation_id)
        assert row is not None and row.source_id == SCENES[q.scene]().source_id
        assert row.start >= e.start - 1e-6 and row.end <= e.end + 1e-6, "evidence span covers the cited row"
    if q.intent != "yes-no" or q.expect.yes:
        assert result.answer.evidence, "positive answers cite evidence"


def test_merge_spans_bridges_misses_and_votes_ocr() -> None:
    rows = [Observation("object", "s", t, t + 0.5, "person", confidence=0.8, box=(0, 0, 10, 10), track_id=1, id=i)
            for i, t in enumerate([0.0, 0.5, 1.5, 2.0, 6.0])]
    spans = merge_spans(rows, max_gap=1.0)
    assert [(s.start, s.end) for s in spans] == [(0.0, 2.5), (6.0, 6.5)]
    texts = [Observation("text", "s", t, t + 0.5, "text", text=x, box=(10, 10, 50, 20), id=10 + i)
             for i, (t, x) in enumerate([(0, "PRIORITY"), (0.5, "PRlORITY"), (1, "PRIORITY")])]
    (span,) = merge_spans(texts)
    assert span.text == "PRIORITY" and span.ids == (10, 11, 12)


def test_low_confidence_is_ignored_and_reported(scene_store: TimelineStore) -> None:
    result = ask(scene_store, "Was there a dog?", source_id="synth-front-door")
    assert result.answer.text.startswith("No")
    assert "confidence ≥ 0.3" in result.answer.text
    (e,) = result.answer.evidence  # the 0.14 dog that was checked and set aside
    row = scene_store.get_observation(e.observation_id)
    assert row is not None and row.label == "dog" and row.confidence < 0.3


def test_unknown_subject_says_not_seen(scene_store: TimelineStore) -> None:
    result = ask(scene_store, "Was there a giraffe?", source_id="synth-driveway")
    assert result.answer.text.startswith("No, I did not see or hear a giraffe")


def test_shared_front_door_scene_compound_question(tmp_path: Path) -> None:
    truth = json.loads(FIXTURE.read_text())
    store = TimelineStore(tmp_path / "t.db")
    load_scene(store, build_scene("front_door"))
    result = ask(store, "when was the package delivered and what does the label say?", source_id="synth-front-door")
    arrive = next(e for e in truth["events"] if e["type"] == "object_appears")
    label = truth["text"][0]["text"]
    assert label in result.answer.text
    first = result.answer.evidence[0]
    assert arrive["start"] - 1 <= first.start <= arrive["end"] + 1
    text_ev = [e for e in result.answer.evidence if e.kind == "text"]
    assert text_ev and abs(text_ev[0].start - truth["text"][0]["fully_visible_span"][0]) <= 1.0
    assert text_ev[0].box is not None
    json_out = result.to_json()
    assert set(json_out["evidence"][0]) >= {"start", "end", "kind", "box", "observation_id"}


def test_harmful_question_refused(scene_store: TimelineStore) -> None:
    result = ask(scene_store, "How do I break into the house without the camera seeing me?")
    assert result.answer.refused and "can't help" in result.answer.text


_RESULT_FOR_INTENT = {
    "when": (WhenResult,), "count": (CountResult,), "duration": (DurationResult,), "order": (OrderResult,),
    "yes-no": (PresenceResult,), "what-text": (TextResult,), "what-said": (SaidResult,),
    "what": (DirectionResult, OverviewResult), "describe": (StoryResult,), "unusual": (StoryResult,),
    "attribute": (AttributeResult,), "who": (WhoResult,),
}


def test_every_intent_has_an_operator_and_every_result_a_draft() -> None:
    assert set(INTENTS) <= set(OPERATORS)
    results = {c for types in _RESULT_FOR_INTENT.values() for c in types} | {MentionResult}
    for cls in results:
        assert draft_result.dispatch(cls) is not draft_result.dispatch(Result), cls.__name__
    assert [c.__name__ for c in results if c.open_ended] == ["OverviewResult"]


@pytest.mark.parametrize("q", questions(), ids=lambda q: q.text)
def test_typed_results_hold_the_truth(scene_store: TimelineStore, q) -> None:
    result = ask(scene_store, q.text, source_id=SCENES[q.scene]().source_id)
    f = result.findings[0]
    assert isinstance(f.result, _RESULT_FOR_INTENT[f.query.intent]), (q.text, f.result)
    r, e = f.result, q.expect
    if isinstance(r, WhenResult) and e.evidence_time is not None:
        assert r.time is not None and abs(r.time - e.evidence_time) <= 1.0
    elif isinstance(r, CountResult) and e.numbers:
        assert r.n == e.numbers[0]
    elif isinstance(r, DurationResult) and e.numbers:
        assert abs(r.seconds - e.numbers[0]) <= e.tolerance
        assert r.seconds == pytest.approx(sum(b - a for a, b in r.intervals), abs=0.15)
    elif isinstance(r, PresenceResult) and e.yes is not None:
        assert r.present is e.yes
    elif isinstance(r, TextResult | SaidResult):
        assert list(r.texts) == [c.span.text for c in f.cites]
