"""Sound-event tagging on real fixtures: a doorbell found at the right time in a mixed track, nothing on silence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scenewatch.errors import ConfigError, SourceError
from scenewatch.ingest.audio import load_audio
from scenewatch.perception.sounds.events import SoundStream
from scenewatch.perception.sounds.settings import SoundSettings
from scenewatch.perception.sounds.yamnet import YamnetTagger, log_mel
from scenewatch.types import AudioChunk, SourceInfo

pytest.importorskip("onnxruntime")

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def tag_file(path: Path, tagger: YamnetTagger) -> list:
    """Sound rows of a file through the pipeline's ``sounds`` stage (``runtime.files.sounds_file``)."""
    from scenewatch.config import Config
    from scenewatch.runtime.files import sounds_file

    return sounds_file(path, Config(), tagger=tagger)
EV, SPEECH = FIX / "audio_events", FIX / "speech"
DOORBELL_FAMILY = {"Doorbell", "Ding-dong", "Ding", "Bell", "Chime", "Jingle bell"}
SR = 16000


def _mixed_track() -> tuple[np.ndarray, dict[str, float]]:
    """silence, doorbell, silence, speech, silence, breaking bulb, silence, alarm clock, silence."""
    def z(s: float) -> np.ndarray:
        return np.zeros(int(s * SR), np.float32)

    parts = [("", z(3.0)), ("doorbell", load_audio(EV / "ion_door_bell.ogg").samples), ("", z(3.0)),
             ("speech", load_audio(SPEECH / "jfk_16k_mono.wav").samples), ("", z(2.0)),
             ("glass", load_audio(EV / "ion_light_bulb_breaking.ogg").samples), ("", z(2.0)),
             ("alarm", load_audio(EV / "fd_alarm-clock-elapsed.oga").samples), ("", z(2.0))]
    starts, pos = {}, 0
    for name, x in parts:
        if name:
            starts[name] = pos / SR
        pos += len(x)
    return np.concatenate([x for _, x in parts]), starts


def test_front_end_shape_and_range() -> None:
    x = load_audio(EV / "ion_bell_ring.ogg").samples
    mel = log_mel(x)
    assert mel.shape == (1 + (len(x) - 400) // 160, 64)
    assert mel.min() >= np.log(0.001) - 1e-5 and np.isfinite(mel).all()


def test_front_end_matches_one_mel_product_and_stays_on_one_blas_thread() -> None:
    from scenewatch.perception.sounds import yamnet as ym

    x = load_audio(EV / "ion_bell_ring.ogg").samples
    frames = np.lib.stride_tricks.sliding_window_view(x, ym.WINDOW)[:: ym.HOP] * ym._HANN
    whole = np.log(np.abs(np.fft.rfft(frames, ym.N_FFT)).astype(np.float32) @ ym._MEL + 0.001)
    np.testing.assert_allclose(log_mel(x), whole, rtol=0, atol=1e-5)  # same filter bank, same frames
    assert ym._MEL_ROWS * ym._MEL.shape[0] * ym.N_MELS < 4 * 65536  # under OpenBLAS's threading threshold
    assert np.array_equal(log_mel(x), log_mel(x))


def test_doorbell_found_at_the_right_time_in_a_mixed_track(yamnet: YamnetTagger) -> None:
    track, starts = _mixed_track()
    events = yamnet.tag(AudioChunk(track, 0.0, "s"))
    onset = starts["doorbell"] + 0.02  # the clip's sound starts 0.02 s in (manifest)
    bells = [e for e in events if e.label in DOORBELL_FAMILY and abs(e.start - onset) <= 0.5]
    assert bells, events
    assert any(e.label in {"Doorbell", "Ding-dong"} for e in bells)
    # The breaking bulb is heard as glass; the alarm clock as an alarm/beep family sound.
    glass = starts["glass"] + 0.09
    assert any(e.label in {"Shatter", "Glass", "Breaking", "Chink, clink"} and abs(e.start - glass) <= 0.5
               for e in events)
    alarm = starts["alarm"] + 0.27
    assert any(e.label in {"Beep, bleep", "Alarm clock", "Alarm", "Buzzer", "Smoke detector, smoke alarm"}
               and abs(e.start - alarm) <= 1.0 for e in events)
    # Speech is background: not reported by default; nothing at all in the leading silence.
    assert not any(e.label == "Speech" for e in events)
    assert not any(e.end <= starts["doorbell"] - 0.5 for e in events)


def test_streaming_equals_whole_track(yamnet: YamnetTagger) -> None:
    track, _ = _mixed_track()
    whole = yamnet.tag(AudioChunk(track, 5.0, "s"))
    stream = SoundStream(yamnet, SoundSettings())
    out = []
    for i in range(0, len(track), 7000):  # chunks off the patch grid
        out += stream.push(AudioChunk(track[i:i + 7000], 5.0 + i / SR, "s"))
    out += stream.flush()
    assert sorted(out, key=lambda e: (e.start, e.label)) == whole


def test_no_events_on_silence_and_quiet_noise(yamnet: YamnetTagger) -> None:
    assert yamnet.tag(AudioChunk(np.zeros(SR * 20, np.float32), 0.0, "s")) == []
    assert yamnet.tag(AudioChunk(np.zeros(100, np.float32), 0.0, "s")) == []


def test_speech_reported_only_when_asked(yamnet: YamnetTagger) -> None:
    jfk = load_audio(SPEECH / "jfk_16k_mono.wav")
    asked = YamnetTagger(SoundSettings(include_speech=True)).tag(jfk)
    assert any(e.label == "Speech" and e.end - e.start > 5 for e in asked)
    assert not any(e.label == "Speech" for e in yamnet.tag(jfk))


def test_allow_list_and_per_label_thresholds(yamnet: YamnetTagger) -> None:
    track, _starts = _mixed_track()
    audio = AudioChunk(track, 0.0, "s")
    only_doors = YamnetTagger(SoundSettings(allow=["Door"])).tag(audio)  # Door and everything under it
    assert only_doors and {e.label for e in only_doors} <= {"Door", "Doorbell", "Ding-dong", "Knock", "Slam", "Tap",
                                                           "Squeak", "Sliding door", "Cupboard open or close",
                                                           "Drawer open or close"}
    strict = YamnetTagger(SoundSettings(thresholds={"Ding-dong": 0.99})).tag(audio)
    assert not any(e.label == "Ding-dong" for e in strict)
    with pytest.raises(ConfigError, match="unknown sound label"):
        YamnetTagger(SoundSettings(allow=["Doorbel"])).tag(audio)


def test_most_specific_label_wins(yamnet: YamnetTagger) -> None:
    from scenewatch.perception.sounds.events import prefer_specific
    from scenewatch.types import SoundEvent

    dog = SoundEvent(1.0, 3.0, "Dog", 0.6)
    animal = SoundEvent(0.9, 3.1, "Animal", 0.8)
    bark = SoundEvent(1.2, 2.8, "Bark", 0.5)
    events = [animal, dog, bark]
    assert prefer_specific(events, events, yamnet.labels) == [bark]
    # Every name in the shipped ontology excerpt is a real YAMNet class.
    assert yamnet.labels.children and all(0 <= c < 521 for kids in yamnet.labels.children.values() for c in kids)
    assert "Ding-dong" in {yamnet.labels.names[c] for c in yamnet.labels.descendants(yamnet.labels.index_of("Door"))}


def test_sound_stage_and_fts(yamnet: YamnetTagger, tmp_path: Path) -> None:
    from scenewatch.config import Config
    from scenewatch.memory.store import TimelineStore
    from scenewatch.perception.sounds.stage import SoundStage
    from scenewatch.perception.stage import StageContext

    info = SourceInfo(id="door", uri="x", kind="file")
    stage = SoundStage(StageContext(Config().perception, info, tmp_path), tagger=yamnet)
    track, starts = _mixed_track()
    emits = []
    for i in range(0, len(track), SR):
        emits += stage.on_audio(AudioChunk(track[i:i + SR], i / SR, "door"))
    emits += stage.close()
    obs = [e.observation for e in emits]
    assert all(o.kind == "sound" and o.payload.mid for o in obs)
    assert any(o.label == "Ding-dong" and abs(o.start - starts["doorbell"]) < 0.5 for o in obs)
    with TimelineStore(tmp_path / "t.db") as store:
        store.upsert_source(info)
        store.add_observations(obs)
        assert any(h.kind == "sound" for h in store.search_text("ding"))


def test_scene_doorbell_time(yamnet: YamnetTagger) -> None:
    truth = json.loads((FIX / "scene" / "scene.json").read_text())
    events = tag_file(FIX / "scene" / "scene.mp4", tagger=yamnet)
    onset = float(truth["sound_events"][0]["active_start"])
    assert any(e.label in DOORBELL_FAMILY and abs(e.start - onset) <= 0.5 for e in events)  # rows


def test_bad_input(yamnet: YamnetTagger, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no audio track"):
        tag_file(FIX / "video" / "sam2_bedroom.mp4", tagger=yamnet)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + bytes(2000))
    with pytest.raises(SourceError):
        tag_file(bad, tagger=yamnet)
    # 6-channel AAC decodes (mixed down); 8 kHz audio is resampled by ingest.
    assert isinstance(tag_file(FIX / "video" / "bigbuckbunny.mp4", tagger=yamnet), list)
    x = load_audio(EV / "ion_door_bell.ogg").samples
    clipped = AudioChunk(np.clip(np.concatenate([np.zeros(SR, np.float32), x * 20]), -1, 1), 0.0, "s")
    assert any(DOORBELL_FAMILY & set(e.labels) for e in yamnet.tag(clipped))  # any label of the event counts
    phone = AudioChunk(np.concatenate([np.zeros(8000, np.float32), x[::2]]), 0.0, "s", sample_rate=8000)
    assert any((DOORBELL_FAMILY | {"Music", "Clang", "Cowbell"}) & set(e.labels) for e in yamnet.tag(phone))
