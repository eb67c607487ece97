"""Hearing benchmark: ASR and tagging real-time factor, peak RSS, WER on the speech fixtures.

Run alone on an idle machine: ``.venv/bin/python benchmarks/audio.py``. Prints ratios only.
Targets (2-core CPU): ASR RTF <= 0.1 with tiny.en, tagging RTF <= 0.01.
"""

from __future__ import annotations

import re
import resource
import time
from pathlib import Path

import numpy as np

from scenewatch.ingest.audio import load_audio
from scenewatch.perception.asr import transcribe_file
from scenewatch.perception.asr.faster_whisper import FasterWhisperTranscriber
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.perception.sounds.yamnet import YamnetTagger
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


def main() -> None:
    import jiwer

    model = "tiny.en"
    asr = FasterWhisperTranscriber(AsrSettings(model=model))
    refs, hyps, audio_s, asr_s = [], [], 0.0, 0.0
    for name, truth in TRUTH.items():
        path = FIX / "speech" / name
        t0 = time.perf_counter()
        segments = transcribe_file(path, transcriber=asr)
        asr_s += time.perf_counter() - t0
        audio_s += load_audio(path).duration
        refs.append(truth)
        hyps.append(norm(" ".join(s.text for s in segments)))
    print(f"asr  {model}: pooled WER {jiwer.wer(refs, hyps):.3f} on {len(refs)} clips, RTF {asr_s / audio_s:.3f} "
          f"(clips, {audio_s:.1f} s)")

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


if __name__ == "__main__":
    main()
