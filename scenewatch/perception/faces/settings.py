"""Settings of known-face recognition (opt-in: faces are biometric data)."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class FaceSettings(Section):
    """Face detection on person tracks, face descriptors and matching against enrolled people."""

    enabled: bool = Field(False, description="detect, embed and match faces on person tracks (biometric data)")
    min_face_score: float = Field(0.6, gt=0, lt=1, description="BlazeFace confidence for a face")
    min_face_px: int = Field(24, ge=8, description="smallest face side in pixels worth describing")
    match_threshold: float = Field(
        0.57, gt=0, lt=1, description="cosine similarity of descriptors at which a face is an enrolled person")
    cluster_threshold: float = Field(
        0.6, gt=0, lt=1, description="cosine similarity at which an unknown face joins an existing cluster")
    crop_scale: float = Field(1.0, ge=1, le=3, description="face box enlargement before description")
    keep_crops: bool = Field(True, description="store a small crop of each unknown face so it can be named later")
    interval_seconds: float = Field(1.0, ge=0, description="look for a face on one person track at most this often")
    person_labels: list[str] = Field(default_factory=lambda: ["person"], description="track labels that have faces")
    max_faces_per_cluster: int = Field(
        20, ge=1, description="descriptors kept per unknown cluster (more sightings only match)")
