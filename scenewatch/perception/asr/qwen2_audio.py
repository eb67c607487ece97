"""Qwen2-Audio through ``transformers`` (full tier: audio understanding and transcription on a GPU).

Qwen2-Audio is an audio language model: a Whisper-style encoder (128 mel bins, 30 s of audio → 750
audio tokens) feeding a Qwen2 decoder. Besides transcription (prompted, one segment per 30 s window,
no word times) it answers free questions about what it hears with :meth:`Qwen2AudioTranscriber.describe`
("a dog barks, then a door closes").

Loaded with ``from_pretrained`` from a model id or local directory (``perception.asr.model``); a
Whisper size left in the settings (``auto``, the default, or ``tiny.en``…) means ``Qwen/Qwen2-Audio-7B-Instruct``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.perception.asr.faster_whisper import prepare_samples
from scenewatch.perception.asr.hf_whisper import INSTALL_HINT, chunks_to_segments
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, TranscriptSegment

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Qwen/Qwen2-Audio-7B-Instruct"
WINDOW_SECONDS = 30.0
"""The encoder takes exactly 30 s (3000 mel frames); longer audio is cut into windows."""
MIN_SECONDS = 0.1
WHISPER_SIZES = frozenset({
    "auto", "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
    "large", "large-v1", "large-v2", "large-v3", "large-v3-turbo", "turbo",
})
TRANSCRIBE_PROMPT = "Transcribe the speech in this audio verbatim. Reply with the transcript only."


def model_id(settings: AsrSettings) -> str:
    """The checkpoint to load: ``settings.model``, or the Instruct model when it names a Whisper model."""
    name = settings.model.strip()
    if name in WHISPER_SIZES or "whisper" in name.lower():
        return DEFAULT_MODEL
    return name


def windows(samples: NDArray[np.float32]) -> Iterator[tuple[float, NDArray[np.float32]]]:
    """Yield ``(offset seconds, samples)`` for consecutive 30 s windows; a last one under 0.1 s is dropped."""
    size = int(WINDOW_SECONDS * AUDIO_SAMPLE_RATE)
    for begin in range(0, len(samples), size):
        part = samples[begin:begin + size]
        if len(part) >= MIN_SECONDS * AUDIO_SAMPLE_RATE:
            yield begin / AUDIO_SAMPLE_RATE, part


class Qwen2AudioTranscriber:
    """Qwen2-Audio: prompted transcription per 30 s window, and free-text audio descriptions."""

    name = "qwen2-audio"

    def __init__(
        self,
        settings: AsrSettings | None = None,
        *,
        model: Any = None,
        processor: Any = None,
        max_new_tokens: int = 256,
    ) -> None:
        """Load the model with ``from_pretrained`` unless a model and processor are given.

        Args:
            settings: ASR settings; ``model`` names the checkpoint (see :func:`model_id`), ``device``
                and ``language`` are used.
            model: a ``Qwen2AudioForConditionalGeneration`` (tests pass a tiny random one).
            processor: a ``Qwen2AudioProcessor`` with a chat template.
            max_new_tokens: generation budget per window or question.

        Raises:
            BackendUnavailable: torch or transformers is not installed.
        """
        self.settings = settings or AsrSettings(backend="qwen2-audio", model=DEFAULT_MODEL)
        try:
            import torch
            from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration
        except ImportError:
            raise BackendUnavailable(f"the Qwen2-Audio backend needs torch and transformers: {INSTALL_HINT}") from None
        self._torch = torch
        device = self.settings.device if self.settings.device != "cuda" or torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        if model is None:
            model = Qwen2AudioForConditionalGeneration.from_pretrained(model_id(self.settings), dtype=dtype)
        if processor is None:
            processor = AutoProcessor.from_pretrained(model_id(self.settings))
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        self.language: str | None = self.settings.language
        self.max_new_tokens = max_new_tokens

    def transcribe(self, audio: AudioChunk) -> Iterator[TranscriptSegment]:
        """Yield one segment per 30 s window that holds speech, on ``audio``'s timeline (no word times)."""
        prompt = TRANSCRIBE_PROMPT
        if self.language:
            prompt += f" The language is '{self.language}'."
        for offset, part in windows(prepare_samples(audio)):
            text = self._generate([part], prompt)
            duration = len(part) / AUDIO_SAMPLE_RATE
            yield from chunks_to_segments([], audio.start + offset, False, self.language, fallback=(text, duration))

    def describe(self, audio: AudioChunk, question: str = "What can you hear?") -> str:
        """Answer ``question`` about ``audio`` in free text (sounds, speech, music, speakers' mood…).

        Audio over 30 s is given to the model as consecutive 30 s parts of one turn.

        Raises:
            ScenewatchError: the chunk holds less than 0.1 s of audio, or the question is empty.
        """
        if not question.strip():
            raise ScenewatchError("describe needs a question, e.g. 'What can you hear?'")
        parts = [part for _, part in windows(prepare_samples(audio))]
        if not parts:
            raise ScenewatchError(f"describe needs at least {MIN_SECONDS} s of audio, got {audio.duration:.3f} s")
        if len(parts) > 1:
            question = f"The {len(parts)} audio clips are consecutive parts of one recording. {question}"
        return self._generate(parts, question)

    def _generate(self, parts: list[NDArray[np.float32]], text: str) -> str:
        """One chat turn with the audio ``parts`` then ``text``; returns the decoded reply."""
        content: list[dict[str, str]] = [{"type": "audio", "audio_url": f"part{i}"} for i in range(len(parts))]
        content.append({"type": "text", "text": text})
        prompt = self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False,
        )
        inputs = self.processor(text=prompt, audio=parts, sampling_rate=AUDIO_SAMPLE_RATE, return_tensors="pt")
        inputs = inputs.to(self.device)
        if "input_features" in inputs:
            inputs["input_features"] = inputs["input_features"].to(self.model.dtype)
        with self._torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        reply = out[:, inputs["input_ids"].shape[1]:]
        return str(self.processor.batch_decode(reply, skip_special_tokens=True)[0]).strip()
