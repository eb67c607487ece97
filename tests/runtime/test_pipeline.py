"""The runner end to end: stages registered by name, keyed spans, failures isolated, resume."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.perception.registry import STAGES
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput
from scenewatch.runtime.pipeline import Pipeline
from scenewatch.types import AudioChunk, Keyframe, Observation


class LoudStage(BaseStage):
    """Test stage: one growing 'sound' span over audio chunks louder than a threshold."""

    name: ClassVar[str] = "loud"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"audio"})

    def __init__(self, ctx: StageContext) -> None:
        self.sid = ctx.source.id
        self.span: Observation | None = None

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        import numpy as np

        level = np.abs(chunk.samples).reshape(-1, 160).mean(axis=1)
        loud = np.flatnonzero(level > 0.1)
        if not len(loud):
            return []
        start, end = chunk.start + loud[0] * 0.01, chunk.start + (loud[-1] + 1) * 0.01
        if self.span is not None:
            start = self.span.start
        self.span = Observation(kind="sound", source_id=self.sid, start=start, end=end, label="tone")
        return [Emit(self.span, key="tone", final=False)]

    def close(self) -> list[Emit]:
        return [Emit(self.span, key="tone", final=True)] if self.span else []


class BrokenStage(BaseStage):
    name: ClassVar[str] = "broken"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext) -> None:
        pass

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        raise RuntimeError("model exploded")


STAGES.register("loud", LoudStage)
STAGES.register("broken", BrokenStage)


def _run(config, uri: Path, **kw):  # type: ignore[no-untyped-def]
    with TimelineStore(config.store.path) as store:
        return Pipeline(config, store).run(str(uri), **kw)


def test_scene_stage_and_keyed_spans(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    path, truth = synthetic_video
    cfg = config_for(["scene", "broken", "loud"])
    [summary] = _run(cfg, path)
    assert summary.status == "done" and summary.media_time == pytest.approx(8.0, abs=0.1)
    assert "failed: model exploded" in summary.skipped_stages["broken"]  # isolated, others ran
    with TimelineStore(cfg.store.path, readonly=True) as s:
        motion = s.observations(kinds=["motion"])
        cuts = s.observations(kinds=["scene"])
        tones = s.observations(kinds=["sound"])
        progress, status = s.source_progress(summary.source_id)
    assert motion[0].start == pytest.approx(truth["motion"][0], abs=0.25)
    assert motion[0].end == pytest.approx(truth["motion"][1], abs=0.25)
    assert [c.start for c in cuts] == [pytest.approx(truth["cut"], abs=0.05)]
    assert len(tones) == 1  # one keyed row, updated as it grew
    assert tones[0].start == pytest.approx(3.0, abs=0.05) and tones[0].end == pytest.approx(4.0, abs=0.05)
    assert status == "done" and progress == pytest.approx(8.0, abs=0.1)


class SwitchWatcher(BaseStage):
    """Test stage: records the interpreter's thread switch interval while the run goes on."""

    name: ClassVar[str] = "switches"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})
    seen: ClassVar[list[float]] = []

    def __init__(self, ctx: StageContext) -> None:
        pass

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        import sys
        import time

        SwitchWatcher.seen.append(sys.getswitchinterval())
        time.sleep(0.002)  # measurable time in the stage
        return []


STAGES.register("switches", SwitchWatcher)


def test_stage_timers_and_switch_interval(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    import sys

    from scenewatch.runtime.pipeline import SWITCH_INTERVAL

    path, _ = synthetic_video
    before = sys.getswitchinterval()
    SwitchWatcher.seen.clear()
    [summary] = _run(config_for(["scene", "switches", "loud"]), path)
    assert SwitchWatcher.seen and set(SwitchWatcher.seen) == {SWITCH_INTERVAL}  # short while running
    assert sys.getswitchinterval() == before  # and given back
    assert set(summary.stage_seconds) == {"decode", "scene", "switches", "loud"}
    assert summary.stage_seconds["switches"] >= 0.002 * summary.keyframes
    assert summary.stage_seconds["decode"] > 0 and set(summary.stage_cpu) == set(summary.stage_seconds)


def test_rerun_is_idempotent_and_restart_replaces(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    path, _ = synthetic_video
    cfg = config_for(["scene"])
    _run(cfg, path)
    with TimelineStore(cfg.store.path) as s:
        n = s.count()
    [again] = _run(cfg, path)
    assert again.status == "already done"
    [restarted] = _run(cfg, path, restart=True)
    assert restarted.status == "done"
    with TimelineStore(cfg.store.path) as s:
        assert s.count() == n


def test_until_stops_and_resume_continues(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    path, truth = synthetic_video
    cfg = config_for(["scene"])
    [first] = _run(cfg, path, until=4.5)
    assert first.status == "stopped" and first.media_time <= 4.6
    [second] = _run(cfg, path)
    assert second.status == "done" and second.resumed_from > 3.0
    with TimelineStore(cfg.store.path) as s:
        cuts = s.observations(kinds=["scene"])
    assert [c.start for c in cuts] == [pytest.approx(truth["cut"], abs=0.05)]


def test_audio_only_source_skips_visual_stages(config_for, fixtures: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = config_for(["scene", "loud"])
    [summary] = _run(cfg, fixtures / "speech" / "jfk.flac")
    assert summary.skipped_stages == {"scene": "no video track"}
    assert summary.audio_seconds == pytest.approx(11.0, abs=0.05)


def test_real_scene_fixture(config_for, fixtures: Path, scene_truth: dict) -> None:  # type: ignore[no-untyped-def]
    cfg = config_for(["scene"])
    [summary] = _run(cfg, fixtures / "scene" / "scene.mp4")
    with TimelineStore(cfg.store.path) as s:
        motion = s.observations(kinds=["motion"])
    # the red circle crosses 2.0-6.0 s; the box slides in 8.0-9.0 s and vanishes at 20.0 s
    assert motion[0].start == pytest.approx(2.0, abs=0.3) and motion[0].end == pytest.approx(6.0, abs=0.3)
    assert any(abs(m.start - 8.0) < 0.3 for m in motion)
    assert any(abs(m.start - 20.0) < 0.3 for m in motion)
    assert summary.keyframes < 80


def test_writer_gathers_batches_that_arrive_close_together() -> None:
    """Batches arriving within the gather time are committed together; the end marker ends it."""
    import queue
    import threading
    import time

    from scenewatch.runtime.pipeline import _DONE, _Batch, _drain

    q: queue.Queue[object] = queue.Queue()
    first, second, late = _Batch([], {"a": 1.0}), _Batch([], {"a": 2.0}), _Batch([], {"a": 3.0})

    def feed() -> None:
        q.put(first)
        time.sleep(0.02)
        q.put(second)  # within the gather time of the first
        time.sleep(0.5)
        q.put(late)  # well after it: a commit of its own
        q.put(_DONE)

    threading.Thread(target=feed, daemon=True).start()
    got = [b for b in _drain(q, workers=1, gather=0.2) if b]  # type: ignore[arg-type]
    assert got == [[first, second], [late]]


class SharingStage(BaseStage):
    """Test stage: shares one box per keyframe (its time) and remembers its thread."""

    name: ClassVar[str] = "sharing"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})
    writes_shared: ClassVar[bool] = True

    def __init__(self, ctx: StageContext) -> None:
        self.threads: set[str] = set()

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        import threading

        import numpy as np

        from scenewatch.types import Detections

        self.threads.add(threading.current_thread().name)
        t = keyframe.frame.pts
        shared.detections = Detections(np.array([[t, 0, t + 1, 1]], np.float32), np.ones(1, np.float32), ("x",))
        return []


class ReadingStage(BaseStage):
    """Test stage: writes a row per keyframe saying which keyframe's shared box it was handed."""

    name: ClassVar[str] = "reading"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext) -> None:
        self.sid = ctx.source.id
        self.threads: set[str] = set()

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        import threading

        self.threads.add(threading.current_thread().name)
        seen = -1.0 if shared.detections is None else float(shared.detections.xyxy[0, 0])
        t = keyframe.frame.pts
        row = Observation(kind="motion", source_id=self.sid, start=t, end=t, label="seen", text=f"{seen:.3f}")
        return [Emit(row)]


def test_stages_after_the_sharing_one_run_on_a_second_thread_with_its_findings(
        config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    from scenewatch.runtime.pipeline import split_keyframe_lane

    path, _ = synthetic_video
    cfg = config_for(["sharing", "reading"])
    built: list[BaseStage] = []

    def factory(ctx: StageContext) -> list[BaseStage]:
        built.extend([SharingStage(ctx), ReadingStage(ctx)])
        return built

    with TimelineStore(cfg.store.path) as store:
        [summary] = Pipeline(cfg, store, stages=factory).run(str(path))
    assert summary.status == "done" and summary.keyframes > 5
    first, second = split_keyframe_lane(built, cores=2)
    assert [s.name for s in first] == ["sharing"] and [s.name for s in second] == ["reading"]
    assert split_keyframe_lane(built, cores=1) == (built, [])
    assert split_keyframe_lane(built[1:], cores=2) == (built[1:], [])  # nothing shares: one lane
    sharing, reading = built
    assert sharing.threads == {"sw-vision"} and reading.threads == {"sw-vision-2"}  # type: ignore[attr-defined]
    with TimelineStore(cfg.store.path, readonly=True) as s:
        rows = s.observations(kinds=["motion"])
    assert len(rows) == summary.keyframes  # every keyframe reached the second lane, once
    for row in rows:  # each with what the first lane shared on that very keyframe
        assert float(row.text) == pytest.approx(row.start, abs=1e-3)
