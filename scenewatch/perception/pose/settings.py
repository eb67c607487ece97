"""Settings of posture on person tracks (MoveNet keypoints → standing / sitting / lying, falls)."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class PoseSettings(Section):
    """Keypoints on person tracks, posture, and the "person fell" rule."""

    enabled: bool = Field(False, description="estimate keypoints and posture on person tracks")
    min_keypoint_score: float = Field(0.25, gt=0, lt=1, description="MoveNet keypoint confidence to use a point")
    interval_seconds: float = Field(0.0, ge=0, description="look at one person track at most this often")
    person_labels: list[str] = Field(default_factory=lambda: ["person"], description="track labels with a pose")
    fall_seconds: float = Field(
        1.5, gt=0, description="upright to lying within this long is a fall (slower is lying down)")
    upright_tilt: float = Field(25.0, gt=0, lt=90, description="torso tilt from vertical (deg) still upright")
    down_seconds: float = Field(2.0, ge=0, description="a fallen person must stay lying this long to be reported")
