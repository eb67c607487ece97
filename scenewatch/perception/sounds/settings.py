"""Settings for sound-event tagging."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class SoundSettings(Section):
    """Which sound tagger runs and how its scores become events."""

    backend: str = Field("yamnet", description="registered sound tagger name")
    on_threshold: float = Field(
        0.30, gt=0, le=1,
        description="score from which a label may start an event when a related label (ancestor or "
                    "descendant) is heard in the same patch",
    )
    strong_threshold: float = Field(
        0.45, gt=0, le=1,
        description="score from which a label starts an event on its own (YAMNet's 8-bit steps are "
                    "0.319, 0.5, 0.68…: one step above the 0.30 cut is noise-level)",
    )
    salience_db: float = Field(
        35.0, gt=0,
        description="a patch whose loudest 10 ms is this many dB over its quietest tenth holds a sound out of "
                    "quiet; there a lone weak label may start an event (noise beds stay under ~30 dB)",
    )
    off_threshold: float = Field(0.15, ge=0, le=1, description="score under which an event ends")
    merge_gap: float = Field(
        1.0, ge=0, description="merge events of one label closer than this, seconds (ding … dong is one ring)",
    )
    min_duration: float = Field(0.0, ge=0, description="drop events shorter than this, seconds")
    allow: list[str] = Field(default_factory=list, description="report only these labels (empty: all)")
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="per-label on-thresholds (override the built-in ones of noise-prone labels)",
    )
    include_speech: bool = Field(False, description="also report Speech/Silence/Music-like background labels")
