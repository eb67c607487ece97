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
    confirm_score: float = Field(0.9, ge=0, le=1,
                                 description="video: a line read on one keyframe only becomes a row at this "
                                             "confidence (two readings confirm it at any)")
    min_chars: int = Field(3, ge=1, le=64, description="video: lines shorter than this (non-space) are no row")
    full_frame: bool = Field(False, description="read the whole frame on every keyframe (slow)")
    read_detections: bool = Field(True, description="read inside boxes from the objects stage")
    read_changed: bool = Field(True, description="read regions that changed since the last keyframe")
    reread_seconds: float = Field(10.0, gt=0, description="re-read an unchanged region at most this often")
    region_padding: float = Field(0.08, ge=0, le=1, description="pad regions by this fraction of their size")
    min_region_px: int = Field(8, ge=1, description="regions smaller than this (either side) are skipped")
    max_regions: int = Field(8, ge=1, le=256, description="regions read per keyframe, largest first")
    max_lines: int = Field(64, ge=1, le=4096, description="text lines recognised per image or region")
    upscale_below_px: int = Field(48, ge=0, le=512,
                                  description="upscale crops whose short side is under this (0: never)")
    max_upscale: float = Field(3.0, ge=1, le=8, description="largest upscale factor for small crops")
    det_limit_side_len: int = Field(960, ge=320, le=4096, description="detector input: longest side, pixels")
    max_image_side: int = Field(4096, ge=256, le=16384, description="larger images are downscaled on load")
    threads: int | None = Field(None, ge=1, le=256, description="onnxruntime threads (None: library default)")
    fallback_below: float = Field(0.8, ge=0, le=1,
                                  description="backend 'trocr': lines under this score are re-read by TrOCR")
    trocr_model: str = Field("microsoft/trocr-small-printed",
                             description="TrOCR model name or local directory (full tier)")
    video_fps: float = Field(1.0, gt=0, le=30, description="`scenewatch read VIDEO`: steady reading rate")
    thumbnails: bool = Field(True, description="save a JPEG crop of each text span under the media dir")
