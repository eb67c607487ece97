"""Settings for sound-event tagging."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class SoundSettings(Section):
    """Which sound tagger runs and how its scores become events."""

    backend: str = Field("yamnet", description="registered sound tagger name")
    on_threshold: float = Field(0.30, gt=0, le=1, description="score that starts an event")
    off_threshold: float = Field(0.15, ge=0, le=1, description="score under which an event ends")
    merge_gap: float = Field(0.5, ge=0, description="merge events of one label closer than this, seconds")
    min_duration: float = Field(0.0, ge=0, description="drop events shorter than this, seconds")
    allow: list[str] = Field(default_factory=list, description="report only these labels (empty: all)")
    thresholds: dict[str, float] = Field(default_factory=dict, description="per-label on-thresholds")
    include_speech: bool = Field(False, description="also report Speech/Silence/Music-like background labels")
