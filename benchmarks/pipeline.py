"""Whole-pipeline speed: `watch` with the default stages on a busy and a quiet doorway, beside decode-only.

Builds two clips with :mod:`synth.footage` (cached; rebuilt only when the recipe changes) and, for
each, runs in fresh subprocesses one after another:

* PyAV decode of every frame to RGB plus the audio, nothing else (the floor);
* ``scenewatch watch --restart`` with the default stages — wall, CPU (user + system of the child,
  all its threads) and peak RSS of that child (``os.wait4``), and the runner's per-stage time;
* (busy clip, unless ``--no-subsets``) ``watch --stages`` subsets, as issue 24 measured them.

Cameras per 2-core box = ⌊2 / CPU s per media s⌋ (a live camera needs its CPU in real time; wall RTF
only says how fast one file goes). Nothing is written outside the cache and temporary folders.

Usage::

    .venv/bin/python -m benchmarks.pipeline [--quick] [--seed 1] [--append] [--no-subsets]
    .venv/bin/python -m benchmarks.pipeline --profile busy   # where time goes (stack samples, all threads)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RECIPE_VERSION = 1  # bump when synth/footage.py changes what it renders
CORES = 2
SUBSETS = ("scene", "scene,objects", "scene,objects,arrivals", "scene,text", "speech", "sounds")
TARGETS = {"busy_rtf": 0.12, "busy_cpu": 0.22, "quiet_vs_decode": 1.5, "rss_mb": 600.0}


def cache_dir() -> Path:
    """Where clips are kept: ``$SCENEWATCH_BENCH_DIR`` or ``<tmp>/scenewatch-bench/pipeline``."""
    env = os.environ.get("SCENEWATCH_BENCH_DIR")
    return Path(env) if env else Path(tempfile.gettempdir()) / "scenewatch-bench" / "pipeline"


def clip(kind: str, seconds: float, seed: int) -> tuple[Path, dict[str, Any]]:
    """The cached clip ``kind`` (``busy``/``quiet``) and its content description, rendered if missing."""
    from synth.footage import busy_clip_recipe, quiet_clip_recipe, write_mp4

    path = cache_dir() / f"{kind}-seed{seed}-{seconds:g}s-v{RECIPE_VERSION}.mp4"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        return path, json.loads(meta.read_text())
    recipe = (busy_clip_recipe if kind == "busy" else quiet_clip_recipe)(seconds, seed)
    print(f"rendering {path.name} ({seconds:g} s) …", file=sys.stderr, flush=True)
    write_mp4(recipe, path)
    content = {**recipe.content, "timeline": [[round(t, 2), what] for t, what in recipe.events]}
    meta.write_text(json.dumps(content, indent=1))
    return path, content


@dataclass
class Run:
    """One measured subprocess."""

    label: str
    wall: float
    cpu: float
    rss_mb: float
    media: float
    summary: dict[str, Any] = field(default_factory=dict)


def measured(cmd: list[str], label: str, media: float) -> Run:
    """Run ``cmd`` alone and measure it: wall, CPU (user+sys) and peak RSS of that one child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{label} failed ({proc.returncode}): {err.read().decode()[-2000:]}")
    summary: dict[str, Any] = {}
    start = text.find("[")
    if start >= 0:
        summaries = json.loads(text[start:])
        summary = summaries[0] if summaries else {}
    return Run(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, media, summary)


def decode_only(path: Path) -> float:
    """Decode every video frame to RGB and every audio frame (this is what a subprocess runs); media seconds."""
    import av

    media = 0.0
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type in ("video", "audio")]
        for frame in c.decode(*streams):
            if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                continue
            if frame.time is not None:
                media = max(media, float(frame.time))
            if isinstance(frame, av.VideoFrame):
                frame.to_ndarray(format="rgb24")
    return media


def watch_cmd(path: Path, db: Path, stages: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "scenewatch.cli.main", "watch", str(path), "--db", str(db), "--restart", "--json"]
    return cmd + (["--stages", stages] if stages else [])


def bench_clip(kind: str, path: Path, seconds: float, subsets: bool) -> list[Run]:
    """Decode-only, the default-stage watch and (optionally) stage subsets of one clip."""
    runs = [measured([sys.executable, "-m", "benchmarks.pipeline", "--decode-only", str(path)],
                     "PyAV decode of every frame to RGB (+ audio), nothing else", seconds)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, stages in enumerate([None, *(SUBSETS if subsets else ())]):
            label = "`watch` (all default stages)" if stages is None else f"`watch --stages {stages}`"
            run = measured(watch_cmd(path, Path(tmp) / f"{kind}-{i}.db", stages), label, seconds)
            runs.append(run)
            print(f"  {kind}: {label}: wall {run.wall:.1f} s, CPU {run.cpu:.1f} s, RSS {run.rss_mb:.0f} MB",
                  file=sys.stderr, flush=True)
    return runs


def table(kind: str, content: dict[str, Any], runs: list[Run]) -> str:
    """A markdown table of one clip's runs, the per-stage split of the full run and the verdicts."""
    seconds = content["seconds"]
    head = (f"**{kind}** clip: {seconds:g} s, {content['size']} {content['fps']:g} fps H.264 + AAC mono 16 kHz, "
            f"seed {content['seed']}; {describe(content)}")
    lines = [head, "", "| run (same file, one after another) | wall s | CPU s | peak RSS MB | wall RTF | "
             "CPU s per media s |", "|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.label} | {r.wall:.1f} | {r.cpu:.1f} | {r.rss_mb:.0f} | {r.wall / seconds:.3f} | "
                     f"{r.cpu / seconds:.3f} |")
    full = next(r for r in runs if r.label.startswith("`watch` (all"))
    decode = runs[0]
    s = full.summary
    if s.get("stage_seconds"):
        lines += ["", f"Per stage inside that `watch` (runner timers; {s.get('keyframes', 0)} keyframes of "
                      f"{s.get('frames', 0)} frames, {s.get('observations', 0)} rows):", "",
                  "| stage | wall s in stage | calling-thread CPU s |", "|---|---:|---:|"]
        for name, secs in sorted(s["stage_seconds"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {name} | {secs:.1f} | {s.get('stage_cpu', {}).get(name, 0.0):.1f} |")
    cams = int(CORES / max(full.cpu / seconds, 1e-9))
    lines += ["", f"Cameras a {CORES}-core box keeps up with live: **{cams}** (⌊{CORES} / "
                  f"{full.cpu / seconds:.3f}⌋); wall RTF {full.wall / seconds:.3f} = "
                  f"{full.wall / max(decode.wall, 1e-9):.1f}× decode-only."]
    return "\n".join(lines)


def describe(content: dict[str, Any]) -> str:
    """What happens in a clip, in words."""
    if content["kind"] == "quiet":
        return (f"a static doorway with sensor noise, slow light drift and room tone at −50 dBFS; "
                f"{content['events']} events (one per 5 min): " +
                "; ".join(f"{t:g} s {what}" for t, what in content.get("timeline", [])))
    return (f"{content['events']} visual/sound events (one every 4–9 s): {content['parcel arrives']} parcels with a "
            f"printed label ({', '.join(content['labels'])}) arrive, rest 10–40 s and leave; "
            f"{content['ball crosses']} balls cross; {content['person visits']} visits of a person who walks in, "
            f"stands 5–15 s and leaves; {content['bell rings']} bells; English speech "
            f"{100 * content['speech_fraction']:.0f} % of the time (fixture clips and espeak-ng sentences) over "
            f"room tone at −45 dBFS; a fixed wall sign {content['wall_sign']!r}")


def verdicts(busy: list[Run], quiet: list[Run], busy_s: float) -> str:
    fb = next(r for r in busy if r.label.startswith("`watch` (all"))
    fq = next(r for r in quiet if r.label.startswith("`watch` (all"))
    rss = max(fb.rss_mb, fq.rss_mb)
    rows = [
        ("busy wall RTF", f"{fb.wall / busy_s:.3f}", f"≤ {TARGETS['busy_rtf']}",
         fb.wall / busy_s <= TARGETS["busy_rtf"]),
        ("busy CPU s per media s", f"{fb.cpu / busy_s:.3f}", f"≤ {TARGETS['busy_cpu']}",
         fb.cpu / busy_s <= TARGETS["busy_cpu"]),
        ("quiet wall ÷ decode-only wall", f"{fq.wall / quiet[0].wall:.2f}×", f"≤ {TARGETS['quiet_vs_decode']}×",
         fq.wall / quiet[0].wall <= TARGETS["quiet_vs_decode"]),
        ("peak RSS of `watch`", f"{rss:.0f} MB", f"≤ {TARGETS['rss_mb']:.0f} MB", rss <= TARGETS["rss_mb"]),
    ]
    out = ["| target | result | goal | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {'ok' if ok else '**missed**'} |" for a, b, c, ok in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------- profiling
class StackSampler:
    """Samples every thread's Python stack (py-spy style, in process): where wall time goes per thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.inclusive: collections.Counter[tuple[str, str]] = collections.Counter()
        self.samples = 0
        self.thread_cpu: dict[str, tuple[str, float]] = {}  # OS thread id -> (name, CPU s so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            names = {t.ident: t.name for t in threading.enumerate()}
            for tid, frame in sys._current_frames().items():
                if tid == me:
                    continue
                seen: set[str] = set()
                f: Any = frame
                while f is not None:
                    code = f.f_code
                    where = code.co_filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
                    key = f"{where}:{code.co_name}"
                    if key not in seen:
                        seen.add(key)
                        self.inclusive[(names.get(tid, str(tid)), key)] += 1
                    f = f.f_back
            self.samples += 1
            if self.samples % 40 == 1:
                self._read_thread_cpu()
            time.sleep(self.interval)
        self._read_thread_cpu()

    def _read_thread_cpu(self) -> None:
        """CPU (user + system) of every OS thread of this process so far, from ``/proc`` (Linux).

        Shows what stage timers cannot: threads no stage owns (BLAS pools, FFmpeg frame threads,
        onnxruntime pools). A thread that ended keeps its last reading."""
        tick = os.sysconf("SC_CLK_TCK")
        named = {str(t.native_id): t.name for t in threading.enumerate()}
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            name = named.get(tid) or self.thread_cpu.get(tid, ("", 0.0))[0] or comm
            self.thread_cpu[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, top: int = 14) -> str:
        """Per worker thread: share of the run's wall time inside each function (inclusive)."""
        skip = ("threading.py", "<frozen", "queue.py:get", "pipeline.py:work", "pipeline.py:_process",
                "benchmarks/pipeline.py")
        out = []
        for thread in ("sw-decode", "sw-vision", "sw-audio", "MainThread"):
            rows = sorted(((k, v) for (t, k), v in self.inclusive.items() if t == thread), key=lambda kv: -kv[1])
            waiting = sum(v for (t, k), v in self.inclusive.items() if t == thread and k.endswith("queue.py:get"))
            out.append(f"{thread}: waiting for input {100 * waiting / max(self.samples, 1):.0f} % of the run")
            shown = [(k, v) for k, v in rows if not any(s in k for s in skip)][:top]
            out += [f"  {100 * v / max(self.samples, 1):5.1f} %  {k}" for k, v in shown]
        by_name: dict[str, list[float]] = {}
        for name, cpu in self.thread_cpu.values():
            by_name.setdefault(name, []).append(cpu)
        out.append("CPU s by OS thread (unnamed ones: native pools, e.g. numpy's OpenBLAS, onnxruntime):")
        for name, cpus in sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:top]:
            out.append(f"  {sum(cpus):6.1f}  {name} ({len(cpus)} thread{'s' if len(cpus) > 1 else ''}, "
                       f"busiest {max(cpus):.1f})")
        return "\n".join(out)


def profile(kind: str, seconds: float, seed: int) -> None:
    """One in-process ``watch`` of a clip under the stack sampler; prints times and the hot functions."""
    import logging

    from scenewatch.config import Config
    from scenewatch.runtime.service import watch

    logging.disable(logging.WARNING)
    path, _ = clip(kind, seconds, seed)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(store={"path": Path(tmp) / "profile.db"})
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        with StackSampler() as sampler:
            run = watch(str(path), cfg, restart=True)[0]
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print(f"{path.name}: wall {wall:.1f} s, CPU {cpu:.1f} s ({cpu / seconds:.3f} s/s), peak RSS "
          f"{r1.ru_maxrss / 1024:.0f} MB, {run.keyframes} keyframes, {run.observations} rows")
    print("stage wall s:", {k: round(v, 1) for k, v in sorted(run.stage_seconds.items())})
    print("stage calling-thread CPU s:", {k: round(v, 1) for k, v in sorted(run.stage_cpu.items())})
    print(sampler.report())


# ---------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short clips (busy 30 s, quiet 60 s), no subsets")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--busy-seconds", type=float, default=None)
    ap.add_argument("--quiet-seconds", type=float, default=None)
    ap.add_argument("--no-subsets", action="store_true", help="skip the `--stages` subset runs")
    ap.add_argument("--append", action="store_true", help=f"append the tables to {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--profile", choices=("busy", "quiet"), help="profile one in-process watch instead")
    ap.add_argument("--decode-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.decode_only is not None:
        decode_only(args.decode_only)
        return
    busy_s = args.busy_seconds or (30.0 if args.quick else 300.0)
    quiet_s = args.quiet_seconds or (60.0 if args.quick else 600.0)
    if args.profile:
        profile(args.profile, busy_s if args.profile == "busy" else quiet_s, args.seed)
        return
    load = os.getloadavg()[0]
    busy_path, busy_content = clip("busy", busy_s, args.seed)
    quiet_path, quiet_content = clip("quiet", quiet_s, args.seed)
    busy = bench_clip("busy", busy_path, busy_s, subsets=not (args.quick or args.no_subsets))
    quiet = bench_clip("quiet", quiet_path, quiet_s, subsets=False)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = "\n\n".join([
        f"`python -m benchmarks.pipeline{' --quick' if args.quick else ''}` — {stamp}, {os.cpu_count()} cores, "
        f"load average {load:.1f} at the start (run alone only if that is < 1).",
        table("busy", busy_content, busy), table("quiet", quiet_content, quiet),
        verdicts(busy, quiet, busy_s)])
    print(report)
    if args.append:
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write("\n### Pipeline speed run\n\n" + report + "\n")


if __name__ == "__main__":
    main()
