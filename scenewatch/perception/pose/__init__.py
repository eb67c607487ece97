"""Posture on person tracks: MoveNet keypoints → standing / sitting / lying, and "person fell".

Heavy imports (onnxruntime, cv2) happen inside :class:`~scenewatch.perception.pose.models.PoseEstimator`.
"""

from __future__ import annotations

from scenewatch.perception.pose.settings import PoseSettings

__all__ = ["PoseSettings"]
