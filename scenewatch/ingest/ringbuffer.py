"""A bounded ring buffer of recent decoded frames (memory stays flat on endless streams)."""

from __future__ import annotations

import threading
from collections import deque

from scenewatch.ingest.sources import VideoItem
from scenewatch.types import Frame


class FrameRing:
    """Keeps the last ``seconds`` of decoded frames, still in FFmpeg's compact format.

    Thread-safe: the decode thread pushes, any thread may read. Frames older than
    ``seconds`` before the newest one are dropped, and so are the oldest frames once the
    held frames would take more than ``max_bytes`` (YUV 4:2:0 size), whatever the resolution.
    """

    def __init__(self, seconds: float, max_bytes: int = 192 * 1024 * 1024) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._items: deque[VideoItem] = deque()
        self._lock = threading.Lock()

    def push(self, item: VideoItem) -> None:
        """Add the newest frame and drop what fell out of the window."""
        frame_bytes = max(1, int(item.av_frame.width * item.av_frame.height * 1.5))
        max_frames = max(1, self.max_bytes // frame_bytes)
        with self._lock:
            self._items.append(item)
            while self._items and (item.pts - self._items[0].pts > self.seconds or len(self._items) > max_frames):
                self._items.popleft()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def span(self) -> tuple[float, float] | None:
        """``(oldest, newest)`` pts held, or ``None`` when empty."""
        with self._lock:
            return (self._items[0].pts, self._items[-1].pts) if self._items else None

    def latest(self) -> Frame | None:
        """The newest frame as RGB, or ``None``."""
        with self._lock:
            item = self._items[-1] if self._items else None
        return item.to_frame() if item is not None else None

    def at(self, pts: float) -> Frame | None:
        """The held frame closest to ``pts``, or ``None`` if ``pts`` is outside the window."""
        with self._lock:
            if not self._items or not (self._items[0].pts - 0.5 <= pts <= self._items[-1].pts + 0.5):
                return None
            item = min(self._items, key=lambda it: abs(it.pts - pts))
        return item.to_frame()
