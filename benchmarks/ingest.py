"""Ingest benchmark: decode + keyframe sampling speed and memory on a long input.

Loops ``tests/fixtures/scene/scene.mp4`` (640×360, 25 fps, AAC) to ``--minutes`` of media in a
temporary folder (stream copy, no re-encode) and measures two real code paths:

* ``decode``: :class:`MediaSource.items` → :class:`KeyframeSampler`, keyframes
  converted to RGB and audio resampled to 16 kHz, exactly as the pipeline's decode thread does;
* ``pipeline``: the full :class:`Pipeline` with only the ``scene`` stage, writing a SQLite
  timeline in the temporary folder.

For each it prints the real-time factor (processing seconds ÷ media seconds; target ≤ 0.05) and
the resident memory at the start (after the first minute), middle and end of the media plus the
spread over the run (target: flat within 50 MB). Nothing is written outside the temporary folder.

Usage::

    .venv/bin/python -m benchmarks.ingest [--minutes 30] [--part decode|pipeline|all]
    .venv/bin/python -m benchmarks.ingest --minutes 5 --watch-rss scene,objects,text,speech,sounds [--code /tmp/base]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "tests" / "fixtures" / "scene" / "scene.mp4"
SCENE_SECONDS = 30.0
RTF_TARGET = 0.05
RSS_TARGET_MB = 50.0
MB = 1024 * 1024


def rss_mb() -> float:
    """Current resident set size of this process, MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class MemoryTrace:
    """RSS samples by media time, taken at most every ``every`` media seconds."""

    every: float = 30.0
    samples: list[tuple[float, float]] = field(default_factory=list)

    def maybe_sample(self, media_time: float, force: bool = False) -> None:
        if force or not self.samples or media_time - self.samples[-1][0] >= self.every:
            self.samples.append((media_time, rss_mb()))

    def at(self, media_time: float) -> float:
        return min(self.samples, key=lambda s: abs(s[0] - media_time))[1]

    def report(self, label: str, media_seconds: float) -> None:
        steady = [r for t, r in self.samples if t >= 60.0] or [r for _, r in self.samples]
        spread = max(steady) - min(steady)
        start, middle, end = self.at(60.0), self.at(media_seconds / 2), self.at(media_seconds)
        verdict = "ok" if spread <= RSS_TARGET_MB else "OVER"
        print(f"{label}: RSS start {start:.0f} MB, middle {middle:.0f} MB, end {end:.0f} MB; "
              f"spread after the first minute {spread:.1f} MB (target ≤ {RSS_TARGET_MB:.0f} MB, "
              f"ratio {spread / RSS_TARGET_MB:.2f}) {verdict}; end − start {end - start:+.1f} MB")


def make_long_input(folder: Path, minutes: float) -> Path:
    """Loop the scene fixture to at least ``minutes`` of media (stream copy)."""
    loops = max(1, int(-(-minutes * 60 // SCENE_SECONDS)))
    out = folder / f"scene_x{loops}.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(loops - 1),
                    "-i", str(SCENE), "-c", "copy", str(out)], check=True)
    return out


def report_rtf(label: str, wall: float, media: float) -> None:
    rtf = wall / media
    verdict = "ok" if rtf <= RTF_TARGET else "OVER"
    print(f"{label}: {media:.0f} s of media in {wall:.1f} s → RTF {rtf:.4f} "
          f"({1 / rtf:.0f}× real time; target ≤ {RTF_TARGET}, ratio {rtf / RTF_TARGET:.2f}) {verdict}")


def bench_decode(path: Path) -> None:
    """MediaSource.items + KeyframeSampler, as the pipeline's decode thread runs them."""
    from scenewatch.config import Config
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.ingest.sources import MediaSource, VideoItem
    from scenewatch.types import AudioChunk

    cfg = Config().ingest
    source = MediaSource(str(path), cfg)
    info = source.info
    sampler = KeyframeSampler(cfg.keyframes, info.width, info.height)
    trace = MemoryTrace()
    frames = keyframes = 0
    audio = media = 0.0
    started = time.perf_counter()
    for item in source.items():
        if isinstance(item, VideoItem):
            frames += 1
            media = item.pts
            if sampler.consider(item.thumbnail(cfg.keyframes.analysis_width), item.pts) is not None:
                keyframes += 1
                item.to_frame()
            trace.maybe_sample(media)
        elif isinstance(item, AudioChunk):
            audio += item.duration
    wall = time.perf_counter() - started
    trace.samples.append((media, rss_mb()))
    media = info.duration or media
    print(f"decode+sample: {info.width}x{info.height} @ {info.fps:.0f} fps, {frames} frames, "
          f"{keyframes} keyframes ({keyframes / media:.2f}/s), {audio:.0f} s of audio")
    report_rtf("decode+sample", wall, media)
    trace.report("decode+sample", media)


def bench_pipeline(path: Path, folder: Path) -> None:
    """The full Pipeline (decode thread, workers, SQLite writer) with only the ``scene`` stage."""
    from scenewatch.config import Config
    from scenewatch.memory.store import TimelineStore
    from scenewatch.runtime.pipeline import Pipeline, Progress

    config = Config(store={"path": folder / "bench.db"}, perception={"stages": ["scene"]})
    trace = MemoryTrace()

    def on_progress(p: Progress) -> None:
        trace.maybe_sample(p.media_time, force=p.status == "finished")

    with TimelineStore(config.store.path) as store:
        started = time.perf_counter()
        (summary,) = Pipeline(config, store, on_progress=on_progress).run(str(path), restart=True)
        wall = time.perf_counter() - started
    print(f"pipeline[scene]: {summary.frames} frames, {summary.keyframes} keyframes, "
          f"{summary.observations} observations, status {summary.status}")
    report_rtf("pipeline[scene]", wall, summary.media_time)
    trace.report("pipeline[scene]", summary.media_time)


def bench_watch_rss(path: Path, folder: Path, stages: str, code: Path | None) -> None:
    """Peak RSS of a real ``scenewatch watch`` process (``code``: another checkout's package, same venv)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    db = folder / f"watch-{code.name if code else 'here'}.db"
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "watch", str(path), "--db", str(db),
                          "--stages", stages, "--restart"], env=env, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(run.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(f"watch --stages {stages} ({code or ROOT}): peak RSS {peak:.0f} MB, {wall:.1f} s wall")


def main() -> int:
    parser = argparse.ArgumentParser(description="scenewatch ingest benchmark")
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the looped input")
    parser.add_argument("--part", choices=["decode", "pipeline", "all"], default="all",
                        help="'all' runs each part in its own process, so memory figures do not mix")
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)  # reuse a looped file (internal)
    parser.add_argument("--watch-rss", metavar="STAGES", help="instead: peak RSS of `scenewatch watch --stages "
                        "STAGES` on the looped input (one process per run)")
    parser.add_argument("--code", type=Path, help="with --watch-rss: run another checkout's package "
                        "(e.g. a `git worktree` of an older commit) on PYTHONPATH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        folder = Path(tmp)
        path = args.input or make_long_input(folder, args.minutes)
        if args.watch_rss:
            bench_watch_rss(path, folder, args.watch_rss, args.code)
            return 0
        if args.part == "all":
            print(f"input: {path.name}, {path.stat().st_size / MB:.0f} MB")
            for part in ("decode", "pipeline"):
                subprocess.run([sys.executable, __file__, "--part", part, "--input", str(path)], check=True)
            return 0
        print(f"[{args.part}] RSS before {rss_mb():.0f} MB")
        if args.part == "decode":
            bench_decode(path)
        else:
            bench_pipeline(path, folder)
        print(f"[{args.part}] peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
