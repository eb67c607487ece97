"""Scale-out costs: files/s in-process vs Ray, per-chunk overhead, search p95 at 1M rows in PostgreSQL.

Run from the repository root (each part is short; a part whose extra is missing says so):

    python -m benchmarks.scale --files 4 --seconds 15          # indexing, in-process vs local Ray
    python -m benchmarks.scale --chunks --seconds 60           # one file whole vs in 20 s chunks
    python -m benchmarks.scale --search --rows 1000000         # PostgreSQL keyword search p95
    python -m benchmarks.scale --project 0.35                  # cameras per node from a CPU-s/media-s cost

Media: seeded busy doorway footage from :mod:`synth.footage` (640×360, an event every 4–9 s,
speech a third of the time); seeds 101… are not ones any stage was tuned on. Rows for the search
benchmark are synthetic sentences over 1,000 sources (2,000-word vocabulary, seeded).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scenewatch.config import Config, load_config
from scenewatch.runtime.index import index


def _clips(folder: Path, files: int, seconds: float) -> list[Path]:
    from synth.footage import busy_clip_recipe, write_mp4

    folder.mkdir(parents=True, exist_ok=True)
    return [write_mp4(busy_clip_recipe(seconds=seconds, seed=101 + i), folder / f"busy{i}.mp4") for i in range(files)]


def _config(db: Path, **extra: Any) -> Config:
    return load_config(None, {"store": {"path": str(db)}, **extra})


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bench_files(files: int, seconds: float, workers: int) -> dict[str, float]:
    """Index the same folder in this process and on a local Ray cluster of ``workers`` actors."""
    with tempfile.TemporaryDirectory(prefix="sw-scale-") as tmp:
        root = Path(tmp)
        _clips(root / "clips", files, seconds)
        media = files * seconds
        cpu0, t0 = _cpu(), time.perf_counter()
        local = index(str(root / "clips"), _config(root / "local.db"))
        local_wall, local_cpu = time.perf_counter() - t0, _cpu() - cpu0
        assert all(s.status == "done" for s in local), local
        out = {"files": files, "media_s": media, "local_wall": local_wall, "local_cpu_per_media_s": local_cpu / media}
        try:
            from scenewatch.runtime.cluster import RayExecutor, connect
        except Exception as exc:  # pragma: no cover - reported
            print(f"ray part skipped: {exc}")
            return out
        t0 = time.perf_counter()
        ray = connect(None, num_cpus=workers)
        out["ray_init"] = time.perf_counter() - t0
        cfg = _config(root / "ray.db", cluster={"worker_cpus": 1})
        t0 = time.perf_counter()
        remote = index(str(root / "clips"), cfg, executor=RayExecutor(cfg, workers=workers))
        out["ray_wall"] = time.perf_counter() - t0
        assert all(s.status == "done" for s in remote), remote
        out["ray_worker_s"] = sum(s.wall_seconds for s in remote)
        ray.shutdown()
        return out


def bench_chunks(seconds: float, chunk: float) -> dict[str, float]:
    """One long file whole vs in chunks, in this process.

    Twice: with the stages' own lead/tail (what ``index`` does) and with none, which leaves the
    fixed cost of a chunk (scratch store, stage start-up, seek, stitching).
    """
    from scenewatch.runtime.cluster_chunks import chunk_overlap

    with tempfile.TemporaryDirectory(prefix="sw-chunks-") as tmp:
        root = Path(tmp)
        clip = _clips(root / "clips", 1, seconds)[0]
        out: dict[str, float] = {"media_s": seconds, "chunk_s": chunk, "overlap_s": chunk_overlap(_config(root / "x"))}
        for name, kw in (("whole", {}), ("split", {"chunk": chunk}), ("bare", {"chunk": chunk, "overlap": 0.0})):
            t0 = time.perf_counter()
            got = index(str(clip), _config(root / f"{name}.db"), **kw)  # type: ignore[arg-type]
            out[f"{name}_wall"] = time.perf_counter() - t0
            out[f"{name}_rows"] = got[0].observations
            out["chunks"] = got[0].chunks
        extra = max(1, int(out["chunks"]) - 1)
        out["per_chunk_overhead_s"] = (out["split_wall"] - out["whole_wall"]) / extra
        out["per_chunk_fixed_s"] = (out["bare_wall"] - out["whole_wall"]) / extra
        return out


def bench_search(rows: int, queries: int, filtered: bool) -> dict[str, float]:
    """Bulk-load synthetic rows into PostgreSQL + pgvector and time keyword search."""
    try:
        from scenewatch.memory.backends import open_store
        from tests.pg_server import running_server
    except Exception as exc:  # pragma: no cover - reported
        print(f"search part skipped: {exc}")
        return {}
    from scenewatch.types import Observation, SourceInfo

    rng = random.Random(7)
    words = [f"w{i:04d}" for i in range(2000)] + ["package", "doorbell", "priority", "mail", "ball", "person"]
    kinds = ["object", "speech", "text", "sound", "motion"]
    out: dict[str, float] = {"rows": rows}
    with running_server() as admin_url, open_store(admin_url) as store:
        for s in range(1000):
            store.upsert_source(SourceInfo(id=f"cam{s:04d}", uri=f"rtsp://cam{s}", kind="live"))

        def gen() -> Any:
            for i in range(rows):
                t = i * 0.5
                text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 8)))
                yield Observation(kind=rng.choice(kinds), source_id=f"cam{i % 1000:04d}",  # type: ignore[arg-type]
                                  start=t, end=t + rng.uniform(0.5, 20), label=rng.choice(words[-6:]),
                                  text=text)

        t0 = time.perf_counter()
        loaded = store.bulk_add_observations(gen())
        out["load_s"] = time.perf_counter() - t0
        # What autovacuum does after a big load (visibility map, hint bits, statistics), done now so
        # the first queries do not pay for it.
        t0 = time.perf_counter()
        store.execute("VACUUM ANALYZE observations")
        out["vacuum_s"] = time.perf_counter() - t0
        assert loaded == rows
        lat = []
        for _ in range(queries):
            q = " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
            t0 = time.perf_counter()
            store.search_text(q, limit=20)
            lat.append(time.perf_counter() - t0)
        lat.sort()
        out["p50_ms"] = 1000 * statistics.median(lat)
        out["p95_ms"] = 1000 * lat[min(len(lat) - 1, math.ceil(0.95 * len(lat)) - 1)]
        if not filtered:
            return out
        lat, first = [], []
        seen: set[str] = set()
        for _ in range(queries):
            q = rng.choice(words[-6:])
            t0 = time.perf_counter()
            store.search_text(q, limit=20, source_id=f"cam{rng.randrange(1000):04d}")
            # The first filtered query of a word also counts its whole-table frequency (then cached).
            (lat if q in seen else first).append(time.perf_counter() - t0)
            seen.add(q)
        lat.sort()
        out["filtered_p50_ms"] = 1000 * statistics.median(lat)
        out["filtered_p95_ms"] = 1000 * lat[min(len(lat) - 1, math.ceil(0.95 * len(lat)) - 1)]
        out["filtered_first_ms"] = 1000 * max(first)
        # The worst case: a word in a sixth of all rows, every row a different text, no filter.
        common = []
        for q in words[-6:]:
            t0 = time.perf_counter()
            store.search_text(q, limit=20)
            common.append(time.perf_counter() - t0)
        out["common_p50_ms"] = 1000 * statistics.median(common)
    return out


def project(cpu_per_media_s: float, node_cores: int = 16, utilisation: float = 0.7, decode: float = 0.05
            ) -> dict[str, float]:
    """Cameras per node and nodes per 100 cameras from a pipeline cost in CPU-seconds per media-second.

    Assumptions: one camera is one live stream at 640×360 (keyframe analysis, not every frame),
    busy content all day (the worst case; quiet scenes cost less), ``decode`` CPU-s/s to decode a
    stream near the camera, nodes kept at ``utilisation`` so a burst does not make live sources
    drop keyframes, and one extra node for the head, the store and the API.
    """
    per_camera = cpu_per_media_s + decode
    cameras = math.floor(node_cores * utilisation / per_camera)
    return {"per_camera_cpu": per_camera, "cameras_per_node": cameras,
            "nodes_per_100": math.ceil(100 / max(1, cameras)) + 1,
            "archive_hours_per_node_hour": node_cores * utilisation / cpu_per_media_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=0, help="index this many clips in-process and on Ray")
    ap.add_argument("--seconds", type=float, default=15.0, help="seconds per clip")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunks", action="store_true", help="whole vs chunked indexing of one clip")
    ap.add_argument("--chunk", type=float, default=20.0)
    ap.add_argument("--search", action="store_true", help="keyword search p95 in PostgreSQL")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--filtered", action="store_true", help="also time a label word within one source")
    ap.add_argument("--project", type=float, default=None, help="CPU-s per media-second to project from")
    args = ap.parse_args(argv)
    cost: float | None = args.project
    if args.files:
        r = bench_files(args.files, args.seconds, args.workers)
        print(f"files: {r['files']} × {args.seconds:.0f} s; in-process {r['local_wall']:.1f} s "
              f"({r['files'] / r['local_wall']:.3f} files/s, {r['local_cpu_per_media_s']:.2f} CPU-s per media-s)")
        if "ray_wall" in r:
            print(f"ray ({args.workers} workers): init {r['ray_init']:.1f} s, index {r['ray_wall']:.1f} s "
                  f"({r['files'] / r['ray_wall']:.3f} files/s), worker time {r['ray_worker_s']:.1f} s")
        cost = cost or r["local_cpu_per_media_s"]
    if args.chunks:
        r = bench_chunks(args.seconds, args.chunk)
        print(f"chunks: {r['media_s']:.0f} s file, whole {r['whole_wall']:.1f} s ({r['whole_rows']:.0f} rows); "
              f"{r['chunks']:.0f} chunks of {r['chunk_s']:.0f} s with {r['overlap_s']:.0f} s lead/tail "
              f"{r['split_wall']:.1f} s ({r['split_rows']:.0f} rows): "
              f"{r['per_chunk_overhead_s']:.1f} s per extra chunk; "
              f"without lead/tail {r['bare_wall']:.1f} s ({r['bare_rows']:.0f} rows): "
              f"{r['per_chunk_fixed_s']:.1f} s fixed per chunk")
    if args.search:
        r = bench_search(args.rows, args.queries, args.filtered)
        if r:
            print(f"search: {r['rows']:,} rows loaded in {r['load_s']:.0f} s (+ VACUUM ANALYZE {r['vacuum_s']:.0f} s); "
                  f"keyword p50 {r['p50_ms']:.1f} ms, "
                  f"p95 {r['p95_ms']:.1f} ms" + (
                      f"; a label word within one source p50 {r['filtered_p50_ms']:.1f} ms, "
                      f"p95 {r['filtered_p95_ms']:.1f} ms (first query of a word, counting its frequency: "
                      f"up to {r['filtered_first_ms']:.0f} ms); that word unfiltered (1 row in 6, all distinct "
                      f"texts) p50 {r['common_p50_ms']:.0f} ms" if "filtered_p95_ms" in r else ""))
    if cost:
        p = project(cost)
        print(f"projection at {cost:.2f} CPU-s/media-s (+0.05 decode), 16-core nodes at 70 %: "
              f"{p['cameras_per_node']:.0f} cameras/node, {p['nodes_per_100']:.0f} nodes per 100 cameras "
              f"(incl. head); archive {p['archive_hours_per_node_hour']:.0f} media-hours per node-hour")
    return 0


if __name__ == "__main__":
    sys.exit(main())
