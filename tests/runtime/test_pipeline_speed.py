"""The whole-pipeline speed benchmark's footage states its content, and the benchmark runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synth.footage import busy_clip_recipe, quiet_clip_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_busy_clip_has_an_event_every_10_s_and_a_third_speech() -> None:
    clip = busy_clip_recipe(300.0, seed=3)
    c = clip.content
    times = [t for t, what in clip.events if not what.startswith("speech")]
    assert c["events"] == len(times) >= 30 and max(np.diff([0.0, *times])) <= 10.0
    assert c["speech_fraction"] >= 0.3
    assert c["parcel arrives"] >= 2 and c["ball crosses"] >= 2 and c["person visits"] >= 2 and c["bell rings"] >= 2
    assert c["labels"] and c["wall_sign"]
    assert len(clip.audio) == 300 * 16000 and float(np.abs(clip.audio).max()) <= 1.0
    frame = next(iter(clip.frames()))
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8


def test_quiet_clip_has_one_event_per_five_minutes() -> None:
    clip = quiet_clip_recipe(600.0, seed=3)
    assert [round(t // 300) for t, _ in clip.events] == [0, 1]
    assert clip.content["speech_fraction"] == 0.0
    level = 20 * np.log10(np.sqrt(np.mean(clip.audio[: 16000 * 30] ** 2)))
    assert -52 < level < -48  # faint room tone


@pytest.mark.slow
def test_quick_benchmark_prints_the_tables(tmp_path: Path) -> None:
    env = {**os.environ, "SCENEWATCH_BENCH_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.pipeline", "--quick"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900, check=True).stdout
    assert "**busy** clip: 30 s" in out and "**quiet** clip: 60 s" in out
    assert out.count("| PyAV decode of every frame") == 2 and out.count("| `watch` (all default stages) |") == 2
    for target in ("busy wall RTF", "busy CPU s per media s", "quiet wall ÷ decode-only wall", "peak RSS of `watch`"):
        assert f"| {target} |" in out
    assert "| objects |" in out and "| decode |" in out  # per-stage timers came back from the runner


def test_model_thread_pools_follow_the_core_count_and_keep_explicit_settings() -> None:
    from scenewatch.config import Config
    from scenewatch.runtime.pipeline import bounded_threads

    default = Config().perception
    got = {n: (bounded_threads(default, n).ocr.threads, bounded_threads(default, n).detect.threads)
           for n in (1, 2, 3, 4, 64)}
    assert got == {1: (1, 1), 2: (1, 1), 3: (1, 1), 4: (2, 2), 64: (2, 2)}
    explicit = Config(perception={"detect": {"threads": 4}, "ocr": {"threads": 3}}).perception
    kept = bounded_threads(explicit, 2)
    assert (kept.ocr.threads, kept.detect.threads) == (3, 4)
