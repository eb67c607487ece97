"""Trackers: give detections stable ids across keyframes.

Backends, one file each, registered by name and imported lazily:

* ``bytetrack`` — ByteTrack (numpy Kalman filter + two-stage IoU association), one tracker per label group.
* ``sam3-video`` — SAM 3 tracker through ``transformers`` (full tier): propagates masks between
  keyframes; the objects stage re-detects every ``reprompt_seconds`` to find new objects.

:mod:`scenewatch.perception.track.presence` turns tracked boxes into present/absent spans
(N of M keyframes, hold time), per-time boxes and best-crop thumbnails.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from scenewatch.registry import Registry
from scenewatch.types import Detections


@runtime_checkable
class Tracker(Protocol):
    """Assigns track ids to the detections of consecutive keyframes."""

    name: str

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        """Same boxes with ``track_ids`` set (``-1`` where not tracked); order is kept."""
        ...

    def reset(self) -> None:
        """Forget all tracks (new source, or after a gap)."""
        ...


TRACKERS: Registry[type] = Registry(
    "tracker",
    {
        "bytetrack": "scenewatch.perception.track.bytetrack:ByteTrack",
        "sam3-video": "scenewatch.perception.track.sam3_video:Sam3VideoTracker",
    },
)

__all__ = ["TRACKERS", "Tracker"]
