"""Settings for open-vocabulary detection, presence gating and tracking."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class DetectSettings(Section):
    """Which detector runs, and how detections become present, tracked objects."""

    backend: str = Field("nanodet", description="registered detector name")
    score_threshold: float = Field(0.35, gt=0, le=1, description="minimum box score")
    nms_iou: float = Field(0.5, gt=0, le=1)
    presence_n: int = Field(2, ge=1, description="present after N of the last M keyframes")
    presence_m: int = Field(3, ge=1)
    hold_seconds: float = Field(2.0, ge=0, description="absent after this long unseen")
    reprompt_seconds: float = Field(5.0, gt=0, description="full re-detection period for trackers that propagate")
    concept_threshold: float = Field(0.5, gt=0, le=1, description="text-similarity needed to map a concept")
    thumbnails: bool = True
