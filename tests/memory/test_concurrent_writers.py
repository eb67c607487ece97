"""Many writers at once: overlapping batches with the same idempotent keys lose and duplicate nothing."""

from __future__ import annotations

import multiprocessing as mp
import random
from pathlib import Path
from typing import Any

from scenewatch.memory.backends import open_store
from scenewatch.memory.store import RowMeta, StageProgress
from scenewatch.types import Observation, SourceInfo

WRITERS, BATCHES, BATCH, KEYS = 4, 15, 12, 90


def _batches(writer: int) -> list[list[int]]:
    """Each writer's key batches: random, overlapping other writers' (seeded per writer)."""
    rng = random.Random(1000 + writer)
    return [sorted(rng.sample(range(KEYS), BATCH), reverse=writer % 2 == 1) for _ in range(BATCHES)]


def _write(target: str, writer: int, out: mp.Queue, start: Any) -> None:  # type: ignore[type-arg]
    store = open_store(target)
    start.wait(timeout=60)  # all connected: the batches really overlap in time
    seen: dict[int, int] = {}
    for b, keys in enumerate(_batches(writer)):
        rows = [Observation(kind="object", source_id=f"cam{k % 2}", start=float(k), end=k + 0.5, label="person",
                            text=f"w{writer} b{b}") for k in keys]
        ids = store.commit_batch(rows, meta=[RowMeta(stage="detect", ukey=f"k{k}") for k in keys],
                                 progress=("cam0", float(b)), stages={"detect": StageProgress(float(b), "running")})
        for k, oid in zip(keys, ids, strict=True):
            if seen.setdefault(k, oid) != oid:
                out.put(("error", f"key k{k} got ids {seen[k]} and {oid}"))
    store.close()
    out.put(("ids", writer, seen))


def test_overlapping_writers_store_each_key_once(store_target: str | Path) -> None:
    with open_store(store_target) as store:
        for cam in ("cam0", "cam1"):
            store.upsert_source(SourceInfo(id=cam, uri=f"{cam}.mp4", kind="file"))
    ctx = mp.get_context("spawn")  # real processes: separate connections and interpreters
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_write, args=(str(store_target), w, out, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert not [r for r in results if r[0] == "error"], results
    written = {k for w in range(WRITERS) for batch in _batches(w) for k in batch}
    with open_store(store_target, readonly=True) as store:
        rows = store.execute("SELECT source_id, ukey, id, text FROM observations ORDER BY id")
        by_key = {(r[0], r[1]): r for r in rows}
        assert len(rows) == len(by_key) == len(written)  # none lost, none duplicated
        assert set(by_key) == {(f"cam{k % 2}", f"k{k}") for k in written}
        # Every writer was told the one row id its key lives in.
        ids = {f"k{k}": oid for r in results for k, oid in r[2].items()}
        assert all(by_key[(f"cam{int(u[1:]) % 2}", u)][2] == oid for u, oid in ids.items())
        # The row holds the content of one of the writes of its key (the last one committed).
        writes = {(f"k{k}", f"w{w} b{b}") for w in range(WRITERS) for b, batch in enumerate(_batches(w)) for k in batch}
        assert all((r[1], r[3]) in writes for r in rows)
        assert store.stage_progress("cam0")["detect"].status == "running"
