"""Audio: resample any track to 16 kHz mono float32 and cut it into timeline-aligned chunks."""

from __future__ import annotations

from collections.abc import Iterator
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import SourceError
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk

_REANCHOR = 0.5  # seconds: a larger jump in input pts is a discontinuity, not jitter


class AudioResampler:
    """Turns PyAV audio frames into 16 kHz mono float32 with media timestamps.

    The first frame's pts anchors the output; later output samples follow contiguously, and
    a jump in input pts (a gap after a reconnect, a dropped packet) re-anchors the stream.
    """

    def __init__(self) -> None:
        import av

        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE)
        self._next_time: float | None = None
        self._in_end: float | None = None  # media time where the input read so far ends

    def push(self, frame: Any) -> tuple[float, NDArray[np.float32]] | None:
        """Resample one ``av.AudioFrame``; returns ``(start_seconds, samples)`` or ``None``.

        Input samples are kept on the media clock, so a run that seeks to any point hears the same
        16 kHz samples at the same times as one that decoded from the start: input heard twice (the
        priming frame of each part of a joined file steps back in time) is dropped, and the first
        frame starts on the 10 ms grid where input and output samples coincide (44.1 kHz → 16 kHz).
        """
        pts = None if frame.pts is None or frame.time_base is None else float(frame.pts * frame.time_base)
        rate = int(frame.sample_rate or 0)
        skip = 0
        if pts is not None and rate:
            if self._next_time is None:
                skip = -round(pts * rate) % (rate // gcd(rate, AUDIO_SAMPLE_RATE))
            elif self._in_end is not None and 0.5 / rate < self._in_end - pts < _REANCHOR:
                skip = round((self._in_end - pts) * rate)
            self._in_end = max(self._in_end or pts, pts + frame.samples / rate)
            if skip >= frame.samples:
                return None
            if skip:
                frame, pts = _trimmed(frame, skip), pts + skip / rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not out:
            return None
        samples = np.concatenate(out).astype(np.float32, copy=False)
        start = self._anchor(pts)
        self._next_time = start + len(samples) / AUDIO_SAMPLE_RATE
        return start, samples

    def flush(self) -> tuple[float, NDArray[np.float32]] | None:
        """Drain the samples the resampler still holds (call at end of stream)."""
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        if not out or self._next_time is None:
            return None
        samples = np.concatenate(out).astype(np.float32, copy=False)
        start = self._next_time
        self._next_time = start + len(samples) / AUDIO_SAMPLE_RATE
        return start, samples

    def _anchor(self, pts: float | None) -> float:
        if self._next_time is None:
            return pts if pts is not None else 0.0
        # The resampler buffers a few ms, so pts and the running clock differ slightly;
        # only a real discontinuity (> 0.5 s) moves the anchor.
        if pts is not None and abs(pts - self._next_time) > _REANCHOR:
            return pts
        return self._next_time

    def reset(self) -> None:
        """Forget the timeline anchor (after a reconnect)."""
        self.__init__()  # type: ignore[misc]


def _trimmed(frame: Any, skip: int) -> Any:
    """``frame`` without its first ``skip`` samples."""
    import av

    data = frame.to_ndarray()
    channels = 1 if frame.format.is_planar else len(frame.layout.channels)
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, skip * channels:]), format=frame.format.name,
                                     layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out


class AudioChunker:
    """Groups resampled audio into fixed-length :class:`AudioChunk` values."""

    def __init__(self, source_id: str, chunk_seconds: float = 1.0) -> None:
        self.source_id = source_id
        self.chunk_samples = max(1, round(chunk_seconds * AUDIO_SAMPLE_RATE))
        self._parts: list[NDArray[np.float32]] = []
        self._count = 0
        self._start: float | None = None
        self._wall: float | None = None

    def push(self, start: float, samples: NDArray[np.float32], wall_time: float | None = None) -> list[AudioChunk]:
        """Add samples starting at ``start``; return the chunks that are now complete."""
        out: list[AudioChunk] = []
        if self._start is not None and abs(start - (self._start + self._count / AUDIO_SAMPLE_RATE)) > 0.5:
            out.extend(self.flush())  # discontinuity: close the partial chunk
        if self._start is None:
            self._start, self._wall = start, wall_time
        self._parts.append(samples)
        self._count += len(samples)
        while self._count >= self.chunk_samples:
            data = np.concatenate(self._parts)
            chunk, rest = data[: self.chunk_samples], data[self.chunk_samples:]
            out.append(AudioChunk(np.ascontiguousarray(chunk), self._start, self.source_id, wall_time=self._wall))
            self._start += self.chunk_samples / AUDIO_SAMPLE_RATE
            if self._wall is not None:
                self._wall += self.chunk_samples / AUDIO_SAMPLE_RATE
            self._parts, self._count = ([rest] if len(rest) else []), len(rest)
        return out

    def flush(self) -> list[AudioChunk]:
        """Return the partial chunk, if any, and reset."""
        if not self._count or self._start is None:
            self._parts, self._count, self._start = [], 0, None
            return []
        chunk = AudioChunk(np.concatenate(self._parts), self._start, self.source_id, wall_time=self._wall)
        self._parts, self._count, self._start, self._wall = [], 0, None, None
        return [chunk]


def iter_audio(path: Path | str, source_id: str = "", chunk_seconds: float = 30.0) -> Iterator[AudioChunk]:
    """Decode the first audio track of a file into 16 kHz mono chunks (memory bounded).

    Raises:
        SourceError: the file is missing, unreadable or has no audio track.
    """
    import av

    path = Path(path)
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {path}: {exc}") from None
    with container:
        if not container.streams.audio:
            raise SourceError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        resampler, chunker = AudioResampler(), AudioChunker(source_id, chunk_seconds)
        try:
            for frame in container.decode(stream):
                got = resampler.push(frame)
                if got is not None:
                    yield from chunker.push(*got)
        except av.error.InvalidDataError as exc:
            if not chunker._count and chunker._start is None:
                raise SourceError(f"cannot decode audio of {path}: {exc}") from None
        tail = resampler.flush()
        if tail is not None:
            yield from chunker.push(*tail)
        yield from chunker.flush()


def load_audio(path: Path | str, source_id: str = "") -> AudioChunk:
    """Decode a whole file's audio into one 16 kHz mono :class:`AudioChunk`.

    Gaps in the track are kept as gaps in time (the chunk starts at the first sample's pts);
    use :func:`iter_audio` for long files.
    """
    chunks = list(iter_audio(path, source_id, chunk_seconds=60.0))
    if not chunks:
        return AudioChunk(np.zeros(0, np.float32), 0.0, source_id)
    return AudioChunk(np.concatenate([c.samples for c in chunks]), chunks[0].start, source_id)
