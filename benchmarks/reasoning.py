"""Reasoning benchmark: ≥40 questions over three synthetic scenes, answers from their truth.

Usage: python -m benchmarks.reasoning [--models none,qwen2.5-0.5b,qwen2.5-1.5b] [--phrase never|open|always]
       [--threads 2] [--limit N]

Prints accuracy, evidence validity (every cited id exists in the store and belongs to the asked
source; "when" answers cite a span within ±1 s of the truth) and latency p50/p95 per model,
beside the raw-timeline baseline measured in MODELS.md (1.5B: 45 %, p95 27 s). Writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.answer import ask
from scenewatch.reasoning.reasoners import Reasoner
from scenewatch.reasoning.settings import ReasonerSettings
from synth import SCENES, build_scene, load_scene
from synth.questions import Question, paraphrases, questions, score


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _run_set(label: str, name: str, qs: list[Question], store: TimelineStore, reasoner: Reasoner | None,
             settings: ReasonerSettings) -> None:
    correct, valid, by_model, latencies = 0, 0, 0, []
    per_intent: dict[str, list[int]] = {}
    for q in qs:
        sid = SCENES[q.scene]().source_id
        t0 = time.perf_counter()
        result = ask(store, q.text, source_id=sid, reasoner=reasoner, settings=settings)
        latencies.append(time.perf_counter() - t0)
        ev = result.answer.evidence
        cited = [(e.start, e.end) for e in ev]
        ok = score(result.answer.text, q.expect, cited)
        ids_ok = all((row := store.get_observation(e.observation_id)) is not None and row.source_id == sid
                     for e in ev)
        when_ok = q.expect.evidence_time is None or any(
            abs(a - q.expect.evidence_time) <= 1 or abs(b - q.expect.evidence_time) <= 1 for a, b in cited)
        correct += ok
        valid += ids_ok and when_ok
        by_model += result.by_model
        per_intent.setdefault(q.intent, []).append(int(ok))
        if not ok:
            print(f"  miss [{q.intent}] {q.text} -> {result.answer.text[:160]}", flush=True)
    n = len(qs)
    print(f"[{name}] {label} phrase={settings.phrase}: accuracy {correct / n:.2f} ({correct}/{n}), evidence validity "
          f"{valid / n:.2f}, latency p50 {statistics.median(latencies):.2f} s p95 {_pct(latencies, 0.95):.2f} s, "
          f"phrased by model {by_model}/{n}")
    print("   per intent: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(per_intent.items())))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="none,qwen2.5-0.5b,qwen2.5-1.5b")
    ap.add_argument("--phrase", default="never", choices=["never", "open", "always"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    store = TimelineStore(Path(tempfile.mkdtemp()) / "bench.db")
    for name in SCENES:
        load_scene(store, build_scene(name))
    qs = questions()[: args.limit or None]
    odd = paraphrases()
    intents = sorted({q.intent for q in qs})
    print(f"{len(qs)} questions over {len(SCENES)} scenes; intents: {', '.join(intents)}; "
          f"+{len(odd)} paraphrases no planning rule parses")
    print("baseline (raw 75-line timeline, 1.5B, MODELS.md): accuracy 0.45, p95 27 s")
    for name in args.models.split(","):
        reasoner: Reasoner | None = None
        settings = ReasonerSettings(backend="none" if name == "none" else "llama-cpp", model=name,
                                    threads=args.threads, phrase=args.phrase)
        if name != "none":
            from scenewatch.reasoning.reasoners.llama_cpp import LlamaCppReasoner

            try:
                t0 = time.perf_counter()
                llama = LlamaCppReasoner(settings)
                llama.start()
                reasoner = llama
                print(f"[{name}] loaded in {time.perf_counter() - t0:.1f} s", flush=True)
            except ScenewatchError as exc:
                print(f"[{name}] skipped: {exc}")
                continue
        _run_set("question set", name, qs, store, reasoner, settings)
        _run_set("paraphrases", name, odd, store, reasoner, settings)
        if reasoner is not None:
            reasoner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
