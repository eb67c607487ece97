"""Settings for ingestion: keyframe sampler, audio, live reconnection."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class KeyframeSettings(Section):
    """When a decoded frame becomes a keyframe that perception stages see."""

    floor_fps: float = Field(1.0, gt=0, le=30, description="steady keyframe rate, per second")
    scene_threshold: float = Field(0.25, gt=0, le=1, description="mean abs. difference (0..1) of a cut")
    change_threshold: float = Field(0.04, gt=0, le=1, description="per-cell difference that counts as local change")
    min_gap: float = Field(0.2, ge=0, description="minimum seconds between two keyframes")
    analysis_width: int = Field(160, ge=32, le=1920, description="width of the thumbnail the sampler compares")


class ReconnectSettings(Section):
    """Backoff for live sources that drop."""

    initial_delay: float = Field(0.5, gt=0, description="first wait before reconnecting, seconds")
    max_delay: float = Field(10.0, gt=0, description="longest wait between attempts, seconds")
    give_up_after: float = Field(300.0, gt=0, description="stop after this many seconds without data")
    open_timeout: float = Field(5.0, gt=0, description="seconds to wait for a source to open or send data")


class IngestSettings(Section):
    """Decoding and sampling of sources."""

    decode_fps: float | None = Field(None, gt=0, description="decode at most this many frames/s (None: all)")
    audio_chunk_seconds: float = Field(1.0, gt=0, le=60, description="length of audio chunks handed to stages")
    keyframes: KeyframeSettings = KeyframeSettings()
    reconnect: ReconnectSettings = ReconnectSettings()
    media_extensions: list[str] = Field(
        default_factory=lambda: [".mp4", ".mkv", ".mov", ".avi", ".webm", ".ts", ".m4v", ".flv",
                                 ".wav", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".aac", ".opus"],
        description="file extensions picked up from a folder",
    )
