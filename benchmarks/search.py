"""Search benchmark: index build time and hybrid query latency on a large timeline.

Builds a temporary store of ``--rows`` observations (default 100k) shaped like long
surveillance footage — object and sound labels repeat, speech and signs come from a few
thousand distinct sentences — embeds it with the real MiniLM embedder, then times queries
(exact phrases, labels, paraphrases, hostile strings) with and without the vector side.
Also times the rolling-context compression of a 30-minute synthetic window.

Prints numbers only; writes nothing outside a temporary directory.

    .venv/bin/python -m benchmarks.search [--rows 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from scenewatch.memory.context import ContextSettings, compress
from scenewatch.memory.search import SearchFilters, search
from scenewatch.memory.store import TimelineStore
from scenewatch.memory.vectors import VectorIndex, index_pending
from scenewatch.perception.embed.minilm import MiniLMEmbedder
from scenewatch.types import Observation, SourceInfo

OBJECTS = ["person", "bicycle", "car", "motorcycle", "bus", "truck", "boat", "bird", "cat", "dog", "horse",
           "backpack", "umbrella", "handbag", "suitcase", "bottle", "cup", "chair", "couch", "bed", "tv", "laptop",
           "phone", "book", "clock", "package"]
SOUNDS = ["Speech", "Doorbell", "Knock", "Dog", "Bark", "Vehicle", "Car horn", "Siren", "Music", "Footsteps",
          "Glass", "Shatter", "Alarm", "Telephone bell ringing", "Wind", "Rain", "Applause", "Laughter"]
SUBJECTS = ["the courier", "my neighbour", "a delivery driver", "the kids", "someone", "the manager", "a visitor",
            "the plumber", "the postman", "our guest"]
VERBS = ["left", "dropped off", "picked up", "forgot", "is bringing", "ordered", "returned", "signed for",
         "is looking for", "found"]
THINGS = ["a parcel", "the keys", "two boxes", "the groceries", "a letter", "the bike", "a ladder", "the printer",
          "some flowers", "the invoice"]
PLACES = ["at the front door", "in the garage", "by the gate", "on the porch", "in the kitchen", "near the car",
          "at reception", "in the hallway", "behind the shed", "at noon"]
SIGNS = ["EXIT", "PRIORITY MAIL", "NO PARKING", "OPEN", "CLOSED", "FRAGILE", "KX 482 B", "Q3 REVIEW", "SALE",
         "ROOM", "GATE", "DELIVERY", "STAFF ONLY", "PUSH", "PULL"]


def build_rows(n: int, seed: int = 0) -> list[Observation]:
    """``n`` observations over several sources, ~4 % with distinct sentences."""
    rng = random.Random(seed)
    sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(THINGS)} {rng.choice(PLACES)}"
                 for _ in range(3000)]
    signs = [f"{rng.choice(SIGNS)} {rng.randint(1, 99)}" for _ in range(1000)]
    rows = []
    for i in range(n):
        source = f"cam{i % 4}"
        t = i * 0.5
        r = rng.random()
        if r < 0.6:
            label = rng.choice(OBJECTS)
            rows.append(Observation("object", source, t, t + 0.5, label=label, confidence=rng.uniform(0.3, 0.95),
                                    track_id=i // 40, box=(10.0, 20.0, 110.0, 220.0)))
        elif r < 0.75:
            rows.append(Observation("sound", source, t, t + 1.0, label=rng.choice(SOUNDS),
                                    confidence=rng.uniform(0.3, 0.9)))
        elif r < 0.9:
            rows.append(Observation("speech", source, t, t + 3.0, label="speech", text=rng.choice(sentences)))
        else:
            rows.append(Observation("text", source, t, t + 0.5, label="text", text=rng.choice(signs)))
    return rows


def queries(n: int, rows: list[Observation], seed: int = 1) -> list[str]:
    """A mix of exact phrases, labels, paraphrases and hostile strings."""
    rng = random.Random(seed)
    spoken = [o.text for o in rows if o.kind == "speech"]
    fixed = ["when did the courier come", "red car", "someone said delivery", "doorbell", "PRIORITY MAIL",
             "a parcel was left at the door", "dog barking", "who picked up the keys", "", '"', "*", "NEAR",
             "'; DROP TABLE observations; --", "ünïcödé 🚚", "x" * 5000]
    out = list(fixed)
    while len(out) < n:
        r = rng.random()
        if r < 0.4:
            words = rng.choice(spoken).split()
            k = rng.randint(2, 4)
            start = rng.randint(0, max(0, len(words) - k))
            out.append(" ".join(words[start:start + k]))
        elif r < 0.7:
            out.append(rng.choice(OBJECTS + SOUNDS))
        else:
            out.append(f"{rng.choice(SUBJECTS)} with {rng.choice(THINGS)}")
    return out[:n]


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, round(q * (len(values) - 1)))]


def _report(name: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(f"{name:<28} p50 {_pct(ms, 0.5):7.1f} ms   p95 {_pct(ms, 0.95):7.1f} ms   "
          f"max {max(ms):7.1f} ms   mean {statistics.fmean(ms):6.1f} ms   (target p95 ≤ 50 ms: "
          f"{'ok' if _pct(ms, 0.95) <= 50 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    embedder = MiniLMEmbedder()
    rows = build_rows(args.rows)
    qs = queries(args.queries, rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = TimelineStore(Path(tmp) / "bench.db")
        for s in sorted({o.source_id for o in rows}):
            store.upsert_source(SourceInfo(id=s, uri=s, kind="live"))
        t0 = time.perf_counter()
        for i in range(0, len(rows), 5000):
            store.add_observations(rows[i:i + 5000])
        t_insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = index_pending(store, embedder, batch_size=2048)
        t_index = time.perf_counter() - t0
        unique = len({(o.kind, o.label, o.text) for o in rows})
        t0 = time.perf_counter()
        VectorIndex.for_store(store).search(embedder.embed_texts(["warm"])[0], 1)
        t_load = time.perf_counter() - t0
        print(f"rows {len(rows):,}   distinct sentences {unique:,}")
        print(f"insert (FTS5 triggers)       {t_insert:7.1f} s   ({len(rows) / t_insert:,.0f} rows/s)")
        print(f"index build (MiniLM, dedup)  {t_index:7.1f} s   ({n / t_index:,.0f} rows/s, "
              f"{unique / t_index:,.0f} distinct sentences/s)")
        print(f"vector cache load            {t_load * 1000:7.1f} ms")

        t_one = []
        for q in qs[:50]:
            t0 = time.perf_counter()
            embedder.embed_texts([q])
            t_one.append(time.perf_counter() - t0)
        _report("query embedding (MiniLM)", t_one)
        for name, emb, filters in [
            ("keyword only", None, SearchFilters()),
            ("hybrid (keyword + vector)", embedder, SearchFilters()),
            ("hybrid, source+kind+time", embedder, SearchFilters(source_id="cam1", kinds=("speech", "text"),
                                                               since=1000.0, until=30000.0)),
        ]:
            times = []
            for q in qs:
                t0 = time.perf_counter()
                search(store, q, embedder=emb, filters=filters, limit=10)
                times.append(time.perf_counter() - t0)
            _report(name, times)
        store.close()

        # Worst case for the vector side: every observation has its own vector (no repeated sentences).
        worst = TimelineStore(Path(tmp) / "worst.db")
        for s in sorted({o.source_id for o in rows}):
            worst.upsert_source(SourceInfo(id=s, uri=s, kind="live"))
        ids = worst.add_observations(rows)
        rng = np.random.default_rng(0)
        index = VectorIndex.for_store(worst)
        t0 = time.perf_counter()
        for i in range(0, len(ids), 10_000):
            vecs = rng.standard_normal((len(ids[i:i + 10_000]), embedder.dim)).astype(np.float32)
            index.add(ids[i:i + 10_000], vecs / np.linalg.norm(vecs, axis=1, keepdims=True), "random/worst-case")
        t_add = time.perf_counter() - t0
        index.search(np.ones(embedder.dim, np.float32) / np.sqrt(embedder.dim), 1)
        times = []
        for _ in range(100):
            qv = rng.standard_normal(embedder.dim).astype(np.float32)
            t0 = time.perf_counter()
            index.search(qv / np.linalg.norm(qv), 50)
            times.append(time.perf_counter() - t0)
        print(f"store {len(ids):,} distinct vectors   {t_add:7.1f} s")
        _report("vector top-50, all distinct", times)
        worst.close()

    from synth.scene import perceive
    from synth.scenes import SCENES

    window: list[Observation] = []
    offset, loop = 0.0, 0
    names = sorted(SCENES)
    while offset < 1800:
        truth = SCENES[names[loop % 3]]()
        for o in perceive(truth, seed=loop).observations:
            window.append(Observation(o.kind, "cam", o.start + offset, o.end + offset, label=o.label, text=o.text,
                                      confidence=o.confidence, box=o.box, id=len(window) + 1,
                                      track_id=None if o.track_id is None else o.track_id + 1000 * loop))
        offset += truth.duration
        loop += 1
    for budget in (10**9, 2000, 600):
        t0 = time.perf_counter()
        ctx = compress(window, "when did the doorbell ring?", ContextSettings(token_budget=budget))
        dt = time.perf_counter() - t0
        st = ctx.stats
        label = "unbounded" if budget == 10**9 else str(budget)
        print(f"context 30 min, budget {label:>9}: {st.items_in} rows → {st.items_after_stage1} spans → "
              f"{st.items_kept} kept, {st.tokens_in:,} → {st.tokens_out:,} tokens ({st.reduction:.0f}×) "
              f"in {dt * 1000:.0f} ms")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
