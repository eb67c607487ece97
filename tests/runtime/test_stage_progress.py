"""Progress per (source, stage), changed files, folders with bad files, one writer per source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import pytest

from scenewatch.errors import StoreError
from scenewatch.memory.store import TimelineStore
from scenewatch.perception.registry import STAGES
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput
from scenewatch.runtime.pipeline import Pipeline
from scenewatch.types import AudioChunk, Keyframe, Observation
from tests.conftest import make_synthetic_video


class CountingStage(BaseStage):
    """Test stage: one 'sound' row per audio chunk, so a re-run that repeats work shows up as extra rows."""

    name: ClassVar[str] = "chunks"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"audio"})
    seen: ClassVar[list[float]] = []

    def __init__(self, ctx: StageContext) -> None:
        self.sid = ctx.source.id

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        CountingStage.seen.append(chunk.start)
        return [Emit(Observation(kind="sound", source_id=self.sid, start=chunk.start, end=chunk.end, label="chunk"))]


class FrameStage(BaseStage):
    """Test stage: one open 'object' span over every keyframe (continued across a resume)."""

    name: ClassVar[str] = "frames"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext) -> None:
        self.sid = ctx.source.id
        self.span: Observation | None = None

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        t = keyframe.frame.pts
        start = t if self.span is None else self.span.start
        self.span = Observation(kind="object", source_id=self.sid, start=start, end=t, label="screen")
        return [Emit(self.span, key="screen", final=False)]

    def close(self) -> list[Emit]:
        return [Emit(self.span, key="screen", final=True)] if self.span else []


STAGES.register("chunks", CountingStage)
STAGES.register("frames", FrameStage)


def _run(config, uri: Path, **kw):  # type: ignore[no-untyped-def]
    with TimelineStore(config.store.path) as store:
        return Pipeline(config, store).run(str(uri), **kw)


def test_adding_a_stage_runs_only_that_stage(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    path, _ = synthetic_video
    [first] = _run(config_for(["scene"]), path)
    assert first.status == "done" and first.stages == ["scene"]
    with TimelineStore(config_for().store.path) as s:
        scene_rows = s.count()
    CountingStage.seen.clear()
    [second] = _run(config_for(["scene", "chunks"]), path)
    assert second.status == "done" and second.stages == ["chunks"] and second.done_stages == ["chunks", "scene"]
    assert second.frames > 0 and second.keyframes == 0  # decoded for audio, no vision stage ran
    with TimelineStore(config_for().store.path) as s:
        assert s.count() == scene_rows + s.count("sound") and s.count("sound") == len(CountingStage.seen)
        progress = s.stage_progress(second.source_id)
    assert {k: v.status for k, v in progress.items()} == {"scene": "done", "chunks": "done"}
    [third] = _run(config_for(["scene", "chunks"]), path)
    assert third.status == "already done"


def test_stopped_stage_resumes_and_open_span_is_continued(config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "eight.mp4"
    make_synthetic_video(path)
    cfg = config_for(["frames", "chunks"])
    CountingStage.seen.clear()
    [first] = _run(cfg, path, until=4.0)
    assert first.status == "stopped"
    heard = list(CountingStage.seen)
    [second] = _run(cfg, path)
    assert second.status == "done" and 2.0 < second.resumed_from <= 4.0
    with TimelineStore(cfg.store.path) as s:
        spans = s.observations(kinds=["object"])
        chunks = s.observations(kinds=["sound"])
        assert s.execute("SELECT COUNT(*) FROM observations WHERE open=1")[0][0] == 0
    # The span open at the stop is one row from the first keyframe to the last, not two.
    assert len(spans) == 1 and spans[0].start == pytest.approx(0.0, abs=0.05)
    assert spans[0].end >= 6.9  # keyframes at ≥1 fps
    # Every chunk is stored once: none lost at the stop, none repeated by the resume.
    starts = [round(c.start, 3) for c in chunks]
    assert len(starts) == len(set(starts)) and starts == sorted(starts)
    assert chunks[-1].end == pytest.approx(8.0, abs=0.1)
    assert all(b.start == pytest.approx(a.end, abs=1e-3) for a, b in pairwise(chunks))
    assert heard  # the first run did hear audio before it stopped


def test_changed_file_is_resumed_not_skipped(config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    full = tmp_path / "full.mp4"
    make_synthetic_video(full)
    path = tmp_path / "growing.mp4"
    make_synthetic_video(path, seconds=4.0)  # a partly copied file
    cfg = config_for(["chunks"])
    [first] = _run(cfg, path)
    assert first.status == "done" and first.media_time == pytest.approx(4.0, abs=0.1)
    shutil.copy(full, path)  # the complete file arrives at the same path
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    [second] = _run(cfg, path)
    assert second.status == "done" and second.media_time == pytest.approx(8.0, abs=0.1)
    assert second.resumed_from == pytest.approx(4.0, abs=0.1)
    [third] = _run(cfg, path)
    assert third.status == "already done"


def test_second_writer_is_refused(config_for, synthetic_video: tuple[Path, dict]) -> None:  # type: ignore[no-untyped-def]
    path, _ = synthetic_video
    cfg = config_for(["scene"])
    with TimelineStore(cfg.store.path) as store:
        source_id = Pipeline(cfg, store)._open(str(path)).info.id
        store.upsert_source(Pipeline(cfg, store)._open(str(path)).info)
        store.acquire_source_lock(source_id, "otherhost:1:run", lease=60)
        with pytest.raises(StoreError, match="being watched by another run"):
            Pipeline(cfg, store).run(str(path))
        assert store.count() == 0
        store.acquire_source_lock(source_id, "otherhost:1:run", lease=-1)  # its lease ran out: a crash
        [summary] = Pipeline(cfg, store).run(str(path))
    assert summary.status == "done"


def test_folder_with_bad_files_ingests_the_good_ones(tmp_path: Path, synthetic_video: tuple[Path, dict]) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    good, _ = synthetic_video
    shutil.copy(good, folder / "a_good.mp4")
    (folder / "b_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    (folder / "c_empty.mkv").write_bytes(b"")
    shutil.copy(good, folder / "d_good.mp4")
    db = tmp_path / "timeline.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    run = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "watch", str(folder), "--db", str(db),
                          "--stages", "scene", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # some failed
    summaries = {Path(s["uri"]).name: s for s in json.loads(run.stdout)}
    assert {n: s["status"] for n, s in summaries.items()} == {
        "a_good.mp4": "done", "b_corrupt.mp4": "failed", "c_empty.mkv": "failed", "d_good.mp4": "done"}
    assert "b_corrupt.mp4" in summaries["b_corrupt.mp4"]["error"]
    with TimelineStore(db, readonly=True) as store:
        assert sorted(Path(s["uri"]).name for s in store.list_sources() if s["status"] == "done") == \
            ["a_good.mp4", "d_good.mp4"]
    plain = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "watch", str(folder), "--db", str(db),
                            "--stages", "scene"], env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1
    failed_lines = [line for line in plain.stderr.splitlines() if "failed" in line]
    assert len(failed_lines) == 2  # one line per bad file
