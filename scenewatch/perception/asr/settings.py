"""Settings for speech transcription."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scenewatch._settings_base import Section


class AsrSettings(Section):
    """Which transcriber runs and how."""

    backend: str = Field("faster-whisper", description="registered transcriber name")
    model: str = Field(
        "auto",
        description="auto (identify the language with base, English to tiny.en, others to base), "
                    "tiny.en, base, or a local path",
    )
    language: str | None = Field(None, description="language code, or None to detect once per source")
    languages: list[str] = Field(
        default_factory=list,
        description="languages expected at this source (e.g. ['en', 'es']); identification picks among "
                    "them (empty: any language Whisper knows)",
    )
    multilingual_beam_size: int = Field(
        5, ge=1, le=10, description="beam for the multilingual model (beam 5 cut WER by a third on base)",
    )
    redetect_after_silence: float = Field(
        60.0, ge=0, description="identify the language again after this many seconds without speech",
    )
    confirm_language_below: float = Field(
        0.8, ge=0, le=1,
        description="under this identification probability, the first candidates are decoded and compared",
    )
    min_language_probability: float = Field(
        0.4, ge=0, le=1,
        description="under this (and with no candidate decoding well), the language is reported as "
                    "unidentified, not guessed",
    )
    min_filler_confidence: float = Field(
        0.4, ge=0, le=1,
        description="a segment of one or two words under this confidence is filler heard in non-speech",
    )
    compute_type: Literal["int8", "int8_float32", "float32", "float16", "int8_float16"] = "int8"
    device: str = Field("cpu", description="cpu or cuda")
    cpu_threads: int = Field(2, ge=1, le=64)
    beam_size: int = Field(1, ge=1, le=10, description="1 is as accurate as 5 on tiny.en and cheaper")
    vad: bool = Field(True, description="skip non-speech with Silero VAD")
    word_timestamps: bool = True
    chunk_seconds: float = Field(30.0, ge=5, le=120, description="streaming window length")
    overlap_seconds: float = Field(5.0, ge=0, le=30, description="overlap between streaming windows")
