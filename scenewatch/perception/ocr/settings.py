"""Settings for reading scene text."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class Zone(Section):
    """A user-drawn region of interest, in frame pixels."""

    name: str
    box: tuple[float, float, float, float]


class OcrSettings(Section):
    """Which text reader runs, where and how readings are merged over time."""

    backend: str = Field("rapidocr", description="registered text reader name")
    min_score: float = Field(0.5, ge=0, le=1, description="drop readings under this confidence")
    zones: list[Zone] = Field(default_factory=list, description="regions always read")
    full_frame_on_scene_change: bool = True
    merge_distance: float = Field(0.3, ge=0, le=1, description="normalised edit distance to merge readings")
    hold_seconds: float = Field(2.0, ge=0, description="text gone after this long unseen")
