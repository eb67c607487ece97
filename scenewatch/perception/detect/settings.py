"""Settings for open-vocabulary detection, presence gating and tracking."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class DetectSettings(Section):
    """Which detector runs, and how detections become present, tracked objects."""

    backend: str = Field("nanodet", description="registered detector name")
    model: str | None = Field(None, description="model id or path for full-tier backends (sam3)")
    score_threshold: float = Field(0.35, gt=0, le=1, description="minimum box score")
    low_score_threshold: float = Field(
        0.2, gt=0, le=1, description="boxes from here up to score_threshold only extend existing tracks")
    nms_iou: float = Field(0.5, gt=0, le=1)
    threads: int = Field(2, ge=1, le=64, description="onnxruntime intra-op threads")
    tracker: str = Field("bytetrack", description="registered tracker name")
    presence_n: int = Field(2, ge=1, description="present after N of the last M keyframes")
    presence_m: int = Field(3, ge=1)
    hold_seconds: float = Field(2.0, ge=0, description="absent after this long unseen")
    reprompt_seconds: float = Field(5.0, gt=0, description="full re-detection period for trackers that propagate")
    static_redetect_seconds: float = Field(
        10.0, gt=0, description="on a static scene (floor keyframes, no change) re-detect at most this often")
    static_max_seconds: float = Field(
        60.0, gt=0, description="on a static scene that still looks as it did at the last detection, re-detect "
                                "at least this often")
    concept_threshold: float = Field(0.6, gt=0, le=1, description="text-similarity needed to map a concept")
    max_concepts: int = Field(1000, ge=1, le=100_000, description="most concepts accepted in one request")
    thumbnails: bool = True
    thumbnail_size: int = Field(160, ge=16, le=1024, description="longest side of saved track thumbnails")
