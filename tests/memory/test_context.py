"""Rolling compressed context: stage 1 redundancy reduction, stage 2 query-guided selection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from memory_corpus import TruthEvent, fill_store, looped_timeline, scene_observations

from scenewatch.memory.context import (
    CompressedContext,
    ContextSettings,
    build_context,
    compress,
    estimate_tokens,
    reduce_redundancy,
)
from scenewatch.memory.store import TimelineStore
from scenewatch.memory.vectors import index_pending
from scenewatch.types import Observation


def event_recall(ctx: CompressedContext, events: Sequence[TruthEvent]) -> float:
    """Fraction of truth events with a kept line of the same kind, overlapping in time, naming it."""
    def present(ev: TruthEvent) -> bool:
        return any(line.kind == ev.kind and line.start <= ev.end and line.end >= ev.start
                   and ev.what.lower() in line.text.lower() for line in ctx.lines)
    return sum(present(e) for e in events) / len(events)


def test_long_looped_input_compresses_20x_keeping_95_percent_of_events() -> None:
    rows, events = looped_timeline(minutes=30)
    raw = compress(rows, settings=ContextSettings(token_budget=10**9))
    budget = raw.stats.tokens_in // 20
    ctx = compress(rows, settings=ContextSettings(token_budget=budget))
    recall = event_recall(ctx, events)
    print(f"\n{len(rows)} rows, {len(events)} events: {ctx.stats.tokens_in} → {ctx.stats.tokens_out} tokens "
          f"({ctx.stats.reduction:.1f}×), stage 1 alone {raw.stats.reduction:.1f}×, event recall {recall:.3f}")
    assert ctx.stats.reduction >= 20 and ctx.stats.tokens_out <= budget
    assert recall >= 0.95
    assert ctx.stats.items_in == len(rows) and ctx.stats.items_kept == len(ctx.lines) < ctx.stats.items_after_stage1 + 1
    starts = [line.start for line in ctx.lines]
    assert starts == sorted(starts)  # time order for the reasoner


def test_stage1_merges_repeats_drops_noise_and_fixes_misreads() -> None:
    rows = scene_observations()
    rows.append(Observation("object", "scene", 24.0, 24.5, label="dog", confidence=0.14, track_id=99))
    misread = [Observation("text", "scene", 20.0 + i * 0.5, 20.5 + i * 0.5, label="text",
                           text="PRIORITY MAlL" if i == 1 else "PRIORITY MAIL", confidence=0.9) for i in range(3)]
    spans = reduce_redundancy(rows + misread)
    by_kind = {(s.kind, s.label): s for s in spans}
    assert ("object", "dog") not in by_kind  # 0.14 confidence: gone
    package = by_kind[("object", "package")]
    assert len(package.rows) == 11 and (package.start, package.end) == (9.0, 20.0)
    text_spans = [s for s in spans if s.kind == "text"]
    assert len(text_spans) == 1 and text_spans[0].text == "PRIORITY MAIL" and len(text_spans[0].rows) == 14
    assert len(spans) == 6  # scene start, circle, package, text, doorbell, speech


def test_near_duplicate_embeddings_merge_unrelated_do_not() -> None:
    a = Observation("speech", "s", 1.0, 2.0, text="the courier left the parcel", id=1)
    b = Observation("speech", "s", 2.5, 3.0, text="courier left a parcel at the door", id=2)
    c = Observation("speech", "s", 3.5, 4.0, text="the weather is nice", id=3)
    v = np.eye(4, dtype=np.float32)
    vectors = {1: v[0], 2: (0.95 * v[0] + 0.31 * v[1]).astype(np.float32), 3: v[2]}
    assert [len(s.rows) for s in reduce_redundancy([a, b, c], vectors=vectors)] == [2, 1]
    assert [len(s.rows) for s in reduce_redundancy([a, b, c])] == [1, 1, 1]  # strings alone: different


def test_unchanged_scene_rows_collapse() -> None:
    rows = [Observation("scene", "cam", t * 0.5, t * 0.5 + 0.5, label="no change") for t in range(600)]
    rows.append(Observation("scene", "cam", 400.0, 400.04, label="scene cut"))
    ctx = compress(rows)
    assert [line.kind for line in ctx.lines] == ["scene", "scene"] and ctx.stats.reduction > 100


def test_question_guides_selection_under_a_tight_budget() -> None:
    rows, _ = looped_timeline(minutes=10)
    question = "When did the doorbell ring?"
    ctx = compress(rows, question, ContextSettings(token_budget=120))
    assert ctx.stats.tokens_out <= 120
    assert any("Doorbell" in line.text for line in ctx.lines)
    plain = compress(rows, None, ContextSettings(token_budget=120))
    assert sum("Doorbell" in line.text for line in ctx.lines) > sum("Doorbell" in line.text for line in plain.lines)


def test_every_relevant_event_survives_a_618x_budget() -> None:
    rows, events = looped_timeline(minutes=30)
    ctx = compress(rows, "when did the doorbell ring?", ContextSettings(token_budget=600))
    doorbells = [e for e in events if e.what == "Doorbell"]
    assert ctx.stats.reduction > 500 and len(doorbells) == 13
    assert event_recall(ctx, doorbells) == 1.0


def test_build_context_reads_the_window_with_vectors_and_keyframes(timeline: TimelineStore, embedder) -> None:  # type: ignore[no-untyped-def]
    rows = [o if o.kind != "object" else Observation(o.kind, o.source_id, o.start, o.end, label=o.label,
                                                      confidence=o.confidence, box=o.box, track_id=o.track_id,
                                                      payload={"thumbnail": f"scene/{o.start:06.1f}.jpg"})
            for o in scene_observations()]
    early = Observation("sound", "scene", 0.0, 0.5, label="Dog")
    fill_store(timeline, [*rows, early])
    index_pending(timeline, embedder)
    ctx = build_context(timeline, "someone rang at the door", source_id="scene", embedder=embedder,
                        settings=ContextSettings(minutes=0.25, token_budget=45))
    assert ctx.lines and all(line.end >= 22.36 - 15 for line in ctx.lines)  # window: 15 s before the last row
    assert ctx.stats.items_in == len([o for o in rows if o.end >= 22.36 - 15])
    assert any("Doorbell" in line.text for line in ctx.lines)  # relevant by embedding, not by words
    text = ctx.text()
    assert "#" in text and estimate_tokens(text) >= ctx.stats.tokens_out
    wide = build_context(timeline, "the package at the door", source_id="scene", embedder=embedder,
                         settings=ContextSettings(minutes=0.25, token_budget=200))
    assert [k.thumbnail for k in wide.keyframes] == ["scene/0014.0.jpg"]  # one keyframe, mid-span
    assert wide.stats.keyframes_in == 11 > wide.stats.keyframes_kept
    cited = {line.observation_id for line in ctx.lines}
    assert all(timeline.get_observation(i) is not None for i in cited if i is not None)


def test_empty_window() -> None:
    ctx = compress([])
    assert ctx.lines == () and ctx.stats.items_in == 0 and ctx.text() == ""


@pytest.mark.parametrize("text,low,high", [("0:12.0-0:14.1", 10, 13), ("hello world", 2, 2), ("", 0, 0)])
def test_token_estimate(text: str, low: int, high: int) -> None:
    assert low <= estimate_tokens(text) <= high


def test_open_questions_pick_evidence_by_meaning_when_handed_an_embedder(timeline: TimelineStore, embedder) -> None:  # type: ignore[no-untyped-def]
    from scenewatch.memory.context import select_for_question
    from scenewatch.reasoning.answer import ask
    from scenewatch.reasoning.retrieve import OverviewResult
    from scenewatch.reasoning.story import StoryResult
    from scenewatch.spans import merge_spans

    rows, _ = looped_timeline(minutes=3)
    fill_store(timeline, [replace(o, id=None) for o in rows])
    index_pending(timeline, embedder)
    spans = merge_spans(timeline.observations(min_confidence=0.3))
    question = "did anybody ring at the entrance?"  # no word of "Doorbell"/"Ding-dong"
    by_meaning = select_for_question(timeline, spans, question, embedder=embedder, limit=4)
    by_words = select_for_question(timeline, spans, question, limit=4)
    bells = {"doorbell", "ding-dong", "ding"}
    assert any(s.label.lower() in bells for s in by_meaning)
    assert sum(s.label.lower() in bells for s in by_meaning) > sum(s.label.lower() in bells for s in by_words)
    assert [s.start for s in by_meaning] == sorted(s.start for s in by_meaning) and len(by_meaning) <= 4
    assert len({(s.kind, s.label.lower(), s.text.lower()) for s in by_meaning}) == len(by_meaning)  # one per thing
    result = ask(timeline, "What happened?", embedder=embedder)  # an open question, through ask
    (finding,) = result.findings
    assert isinstance(finding.result, OverviewResult | StoryResult) and finding.found
    assert 1 <= len(result.answer.evidence) <= 8
