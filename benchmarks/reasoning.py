"""Reasoning benchmark: ≥40 questions over three synthetic scenes, answers from their truth.

Usage: python -m benchmarks.reasoning [--models none,qwen2.5-0.5b,qwen2.5-1.5b] [--phrase never|open|always]
       [--threads 2] [--limit N] [--set all|scenes|questions2|blind] [--seeds 100-119] [--embedder minilm|none]

``--set questions2`` (in ``all``) also asks the randomised scenes of ``synth/questions2.py``
(colour, direction, speed, arrival/departure, dwell, label, who rang, story, unusual, speech by
meaning; ≥150 questions over 20 scenes, about half natural paraphrases) on seeds the rules and
thresholds were not tuned on (tuning used seeds 0–9), with the MiniLM embedder when installed.
``--set blind`` asks the same scenes with the templates of ``synth/blind_paraphrases.json``
(written from the list of intents only, before the planner was read): one per intent per scene.

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
from typing import TYPE_CHECKING, cast

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.answer import ask
from scenewatch.reasoning.reasoners import Reasoner
from scenewatch.reasoning.settings import ReasonerSettings
from synth import SCENES, build_scene, load_scene
from synth.questions import Question, paraphrases, questions, score
from synth.questions2 import blind_set, load_scene2, question_set, score_blind

if TYPE_CHECKING:
    from scenewatch.memory.vectors import Embedder


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


def _run_questions2(name: str, seeds: range, reasoner: Reasoner | None, settings: ReasonerSettings,
                    embedder: Embedder | None, which: str = "questions2") -> None:
    store = TimelineStore(Path(tempfile.mkdtemp()) / "q2.db")
    scenes, qs = blind_set(seeds) if which == "blind" else question_set(seeds)
    for sc in scenes:
        load_scene2(store, sc)
    tally: dict[str, list[int]] = {"all": [], "paraphrases": [], "valid": []}
    per_intent: dict[str, list[int]] = {}
    latencies: list[float] = []
    for q in qs:
        t0 = time.perf_counter()
        result = ask(store, q.text, source_id=q.source_id, reasoner=reasoner, settings=settings, embedder=embedder)
        latencies.append(time.perf_counter() - t0)
        ev = result.answer.evidence
        ok = score_blind(result.answer.text, q, [(e.start, e.end) for e in ev])
        valid = all((row := store.get_observation(e.observation_id)) is not None and row.source_id == q.source_id
                    and e.start - 1e-3 <= row.start and row.end <= e.end + 1e-3 for e in ev)
        tally["all"].append(ok)
        tally["valid"].append(valid)
        if q.paraphrase:
            tally["paraphrases"].append(ok)
        per_intent.setdefault(q.intent, []).append(int(ok))
        if not ok:
            print(f"  miss [{q.intent}] {q.text} -> {result.answer.text[:160]}", flush=True)
    a, p, v = tally["all"], tally["paraphrases"], tally["valid"]
    print(f"[{name}] {which} seeds {seeds.start}-{seeds.stop - 1} ({len(scenes)} scenes, "
          f"embedder {embedder.model_name if embedder else 'none'}): accuracy {sum(a) / len(a):.2f} "
          f"({sum(a)}/{len(a)}), paraphrases {sum(p) / max(1, len(p)):.2f} ({sum(p)}/{len(p)}), evidence validity "
          f"{sum(v) / len(v):.2f}, latency p50 {statistics.median(latencies):.3f} s p95 {_pct(latencies, 0.95):.3f} s")
    print("   per intent: " + ", ".join(f"{k} {sum(x)}/{len(x)}" for k, x in sorted(per_intent.items())))


def _embedder(name: str) -> Embedder | None:
    if name == "none":
        return None
    from scenewatch.perception.embed import EMBEDDERS

    try:
        return cast("Embedder", EMBEDDERS.get(name)())
    except (ScenewatchError, ImportError) as exc:
        print(f"embedder {name} unavailable ({exc}); speech by keyword only")
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="none,qwen2.5-0.5b,qwen2.5-1.5b")
    ap.add_argument("--phrase", default="never", choices=["never", "open", "always"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--set", default="all", choices=["all", "scenes", "questions2", "blind"])
    ap.add_argument("--seeds", default="100-119", help="questions2 scene seeds, FIRST-LAST")
    ap.add_argument("--embedder", default="minilm", help="embedder handed to ask() (minilm or none)")
    args = ap.parse_args()
    first, last = (int(x) for x in args.seeds.split("-"))
    embedder = _embedder(args.embedder)
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
        if args.set in ("all", "scenes"):
            _run_set("question set", name, qs, store, reasoner, settings)
            _run_set("paraphrases", name, odd, store, reasoner, settings)
        if args.set in ("all", "questions2"):
            _run_questions2(name, range(first, last + 1), reasoner, settings, embedder)
        if args.set in ("all", "blind"):
            _run_questions2(name, range(first, last + 1), reasoner, settings, embedder, "blind")
        if reasoner is not None:
            reasoner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
