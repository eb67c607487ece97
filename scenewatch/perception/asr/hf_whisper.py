"""Whisper through ``transformers`` (full tier: e.g. ``openai/whisper-large-v3`` on a GPU).

Loaded with ``from_pretrained`` from a model id or local directory (``perception.asr.model``);
pre-processing (log-mel features) and post-processing (timestamp tokens → segments) are the
``transformers`` ASR pipeline's. Word times come from cross-attention alignment when the model's
generation config names alignment heads, else segments carry no words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.asr.faster_whisper import prepare_samples
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, TranscriptSegment, Word

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenewatch[hf]'"


class HFWhisperTranscriber:
    """Whisper (any size) through ``transformers``; one window of up to 30 s per call is chunked by the pipeline."""

    name = "hf-whisper"

    def __init__(self, settings: AsrSettings | None = None, *, model: Any = None, processor: Any = None) -> None:
        """Load ``settings.model`` with ``from_pretrained`` unless a model and processor are given.

        Raises:
            BackendUnavailable: torch or transformers is not installed.
        """
        self.settings = settings or AsrSettings(backend="hf-whisper", model="openai/whisper-large-v3")
        try:
            import torch
            from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor, pipeline
        except ImportError:
            raise BackendUnavailable(
                f"the transformers Whisper backend needs torch and transformers: {INSTALL_HINT}"
            ) from None
        device = self.settings.device if self.settings.device != "cuda" or torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        if model is None:
            model = AutoModelForSpeechSeq2Seq.from_pretrained(self.settings.model, torch_dtype=dtype)
        if processor is None:
            processor = AutoProcessor.from_pretrained(self.settings.model)
        self.model = model.to(device).eval()
        self.processor = processor
        generation = getattr(model, "generation_config", None)
        # Timestamp tokens need the generation config Whisper checkpoints ship; without it one
        # segment spans the window.
        self.timestamps = getattr(generation, "no_timestamps_token_id", None) is not None
        self.word_times = bool(self.timestamps and self.settings.word_timestamps
                               and getattr(generation, "alignment_heads", None))
        self._pipe = pipeline(
            "automatic-speech-recognition",
            model=self.model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
            chunk_length_s=30,
            device=device,
        )
        self.language: str | None = self.settings.language
        self.multilingual = bool(getattr(model.config, "vocab_size", 0) >= 51865)

    def transcribe(self, audio: AudioChunk) -> Iterator[TranscriptSegment]:
        """Yield segments (and words where alignment heads exist) on ``audio``'s timeline."""
        samples = prepare_samples(audio)
        if len(samples) < AUDIO_SAMPLE_RATE // 10:
            return
        kwargs: dict[str, Any] = {"num_beams": self.settings.beam_size}
        if self.multilingual and self.language:
            kwargs.update(language=self.language, task="transcribe")
        result: Any = self._pipe(
            {"raw": samples, "sampling_rate": AUDIO_SAMPLE_RATE},
            return_timestamps=("word" if self.word_times else True) if self.timestamps else False,
            generate_kwargs=kwargs,
        )
        yield from chunks_to_segments(result.get("chunks") or [], audio.start, self.word_times,
                                      self.language or ("en" if not self.multilingual else None),
                                      fallback=(str(result.get("text", "")), audio.duration))


def chunks_to_segments(
    chunks: list[dict[str, Any]], offset: float, words: bool, language: str | None,
    fallback: tuple[str, float] = ("", 0.0),
) -> Iterator[TranscriptSegment]:
    """Turn pipeline ``chunks`` (segment or word timestamps) into segments on the global timeline.

    Word chunks are grouped into segments at sentence ends and pauses over 1 s.
    """
    def span(c: dict[str, Any], last_end: float) -> tuple[float, float]:
        start, end = c.get("timestamp") or (None, None)
        start = last_end if start is None else float(start)
        end = start if end is None else float(end)
        return start, max(start, end)

    if not chunks:
        text, duration = fallback
        if text.strip():
            yield TranscriptSegment(offset, offset + duration, text.strip(), language=language)
        return
    if not words:
        last = 0.0
        for c in chunks:
            start, end = span(c, last)
            last = end
            if str(c.get("text", "")).strip():
                yield TranscriptSegment(offset + start, offset + end, str(c["text"]).strip(), language=language)
        return
    group: list[Word] = []
    last = 0.0
    for c in chunks:
        start, end = span(c, last)
        token = str(c.get("text", "")).strip()
        if not token:
            continue
        if group and (start - group[-1].end > 1.0 or group[-1].word.endswith((".", "?", "!"))):
            yield _segment(group, language)
            group = []
        group.append(Word(offset + start, offset + end, token))
        last = end
    if group:
        yield _segment(group, language)


def _segment(words: list[Word], language: str | None) -> TranscriptSegment:
    return TranscriptSegment(words[0].start, words[-1].end, " ".join(w.word for w in words), tuple(words), language)
