"""Settings for speech transcription."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scenewatch._settings_base import Section


class AsrSettings(Section):
    """Which transcriber runs and how."""

    backend: str = Field("faster-whisper", description="registered transcriber name")
    model: str = Field("tiny.en", description="model size/name (tiny.en, base) or a local path")
    language: str | None = Field(None, description="language code, or None to detect once per source")
    compute_type: Literal["int8", "int8_float32", "float32", "float16", "int8_float16"] = "int8"
    device: str = Field("cpu", description="cpu or cuda")
    cpu_threads: int = Field(2, ge=1, le=64)
    beam_size: int = Field(1, ge=1, le=10, description="1 is as accurate as 5 on tiny.en and cheaper")
    vad: bool = Field(True, description="skip non-speech with Silero VAD")
    word_timestamps: bool = True
    chunk_seconds: float = Field(30.0, ge=5, le=120, description="streaming window length")
    overlap_seconds: float = Field(5.0, ge=0, le=30, description="overlap between streaming windows")
