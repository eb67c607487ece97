"""Settings of the ``arrivals`` stage: things that arrive and rest, or leave, without a class."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class ArrivalSettings(Section):
    """Background model and rules that turn a lasting change into an arrival or departure."""

    analysis_width: int = Field(320, ge=64, le=1920, description="width the background model works at")
    background_seconds: float = Field(
        60.0, gt=1, description="time constant of the background model (slow light changes are absorbed)")
    var_threshold: float = Field(25.0, gt=0, description="MOG2 squared-distance threshold for foreground")
    still_threshold: float = Field(
        10.0, gt=0, description="grey change between keyframes (0..255) still counted as at rest")
    dwell_seconds: float = Field(2.5, gt=0, description="an arrival must rest this long before it is reported")
    depart_seconds: float = Field(1.0, ge=0, description="an arrival must be gone this long before it departs")
    lost_seconds: float = Field(60.0, gt=0, description="an arrival hidden or changed this long is closed")
    min_area_frac: float = Field(0.002, gt=0, lt=1, description="smallest region, as a share of the frame")
    max_area_frac: float = Field(0.4, gt=0, le=1, description="largest region (bigger: a light change, not an object)")
    person_labels: list[str] = Field(default_factory=lambda: ["person"],
                                     description="detector labels whose boxes never become arrivals")
    person_overlap: float = Field(0.3, gt=0, le=1, description="share of a region inside a person box that defers it")
    label_overlap: float = Field(0.5, gt=0, le=1, description="share of a region a detector box must cover to name it")
    thumbnails: bool = True
    thumbnail_size: int = Field(160, ge=16, le=1024, description="longest side of saved thumbnails")
