"""Media sources: a file, a folder of files, a live URL or a capture device, read with PyAV.

Every source yields one interleaved stream of :class:`VideoItem`, :class:`AudioChunk` and
:class:`Gap` values on one media timeline that starts at 0. Video frames are handed over
still in FFmpeg's own format (:class:`VideoItem` wraps an ``av.VideoFrame``) so the sampler
can look at a small grey thumbnail and only keyframes pay for an RGB conversion.

Live sources reconnect with exponential backoff after a drop; the media clock keeps running
through the gap (it follows the wall clock), and the gap itself is yielded so it is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenewatch.errors import SourceError
from scenewatch.ingest.audio import AudioChunker, AudioResampler
from scenewatch.ingest.settings import IngestSettings
from scenewatch.types import AudioChunk, Frame, SourceInfo

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
MAX_BAD_PACKETS = 50  # corrupt packets tolerated in one file before giving up
FRAME_THREADS_ABOVE = 1280 * 720
"""Pixels per frame above which FFmpeg decodes on a pool of frame threads.

Up to 720p one thread decodes faster than real time many times over, and the pipeline's own
threads already keep the cores busy: a 640×360 quiet 10 min ``watch`` took 18.0–18.2 CPU s and
10.5–10.7 s with one decoding thread against 18.7–19.4 CPU s and 11.0–11.4 s with four frame
threads (same frames; H.264 decoding is exact either way). Larger frames keep the pool."""


@dataclass(frozen=True, slots=True)
class VideoItem:
    """A decoded video frame not yet converted to RGB."""

    av_frame: Any
    pts: float
    index: int
    source_id: str
    wall_time: float | None = None

    def to_frame(self) -> Frame:
        """Convert to an RGB :class:`Frame` (the costly step; done for keyframes only).

        Through this thread's own FFmpeg scaler, as :meth:`thumbnail` (``to_ndarray`` sets one up
        per frame: 0.38 → 0.13 ms per 640×360 frame, the same pixels).
        """
        image = _scaler("rgb").reformat(self.av_frame, format="rgb24").to_ndarray()
        return Frame(np.ascontiguousarray(image), self.pts, self.source_id, self.index, self.wall_time)

    def thumbnail(self, width: int) -> np.ndarray:
        """A small grey ``uint8`` image for cheap change detection.

        Uses one FFmpeg scaler per thread: ``frame.reformat`` sets a new one up for every frame,
        which cost several times the scaling itself (same pixels either way).
        """
        w, h = self.av_frame.width, self.av_frame.height
        tw = min(width, w)
        th = max(1, round(h * tw / max(w, 1)))
        out: np.ndarray = _scaler("grey").reformat(self.av_frame, width=tw, height=th, format="gray").to_ndarray()
        return out


_scalers = threading.local()  # FFmpeg scalers per decoding thread, by use (each caches its context)


def _scaler(use: str) -> Any:
    """This thread's ``VideoReformatter`` for ``use`` (``grey`` thumbnails, ``rgb`` keyframes)."""
    reformatter = getattr(_scalers, use, None)
    if reformatter is None:
        from av.video.reformatter import VideoReformatter

        reformatter = VideoReformatter()
        setattr(_scalers, use, reformatter)
    return reformatter


@dataclass(frozen=True, slots=True)
class Gap:
    """A span with no data (a live stream dropped and came back, or bad packets skipped)."""

    start: float
    end: float
    reason: str
    wall_start: float | None = None


MediaItem = VideoItem | AudioChunk | Gap


def source_id_for(uri: str) -> str:
    """A stable, readable id: ``<name>-<8 hex of the resolved path or URL>``."""
    stem = Path(uri.rstrip("/")).stem or "source"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:40]
    return f"{safe}-{hashlib.sha1(uri.encode()).hexdigest()[:8]}"


def _is_live(uri: str) -> bool:
    return uri.lower().startswith(LIVE_SCHEMES)


def _is_device(uri: str) -> bool:
    return uri.startswith("/dev/video") or uri.startswith("device:")


def _host(uri: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return parts.netloc.rsplit("@", 1)[-1] or uri


def _open_container(uri: str, options: dict[str, str] | None = None, fmt: str | None = None,
                    timeout: float | tuple[float, float] | None = None) -> Any:
    import av

    began = time.monotonic()
    try:
        return av.open(uri, format=fmt, options=options or {}, timeout=timeout)
    except av.error.FileNotFoundError:
        raise SourceError(f"no such file: {uri}") from None
    except av.error.InvalidDataError:
        if _is_live(uri):  # FFmpeg reports a server that never replies as invalid data once its timeout ends
            limit = timeout[0] if isinstance(timeout, tuple) else timeout
            if limit is not None and time.monotonic() - began >= 0.8 * limit:
                raise SourceError(f"cannot open {uri}: no answer from {_host(uri)} within {limit:g} s") from None
            raise SourceError(f"cannot open {uri}: {_host(uri)} answered, but not with a media stream") from None
        raise SourceError(f"cannot open {uri}: not a media file, or truncated/corrupt") from None
    except av.error.ExitError:  # PyAV's timeout interrupts FFmpeg, which reports "Immediate exit requested"
        limit = timeout[0] if isinstance(timeout, tuple) else timeout
        raise SourceError(f"cannot open {uri}: no answer within {limit} s") from None
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SourceError(f"cannot open {uri}: {reason}") from None
    except OSError as exc:
        raise SourceError(f"cannot open {uri}: {exc.strerror or exc}") from None


def _codec_name(stream: Any) -> str:
    """The stream's codec name if this FFmpeg can decode it, else raise a clear error."""
    ctx = stream.codec_context  # None when FFmpeg has no decoder for the stream's codec
    name = getattr(ctx, "name", None)
    if not name or name == "none":
        raise SourceError(f"{stream.type} codec of stream #{stream.index} is not supported by this FFmpeg build")
    return str(name)


def probe_container(container: Any, uri: str, kind: str, source_id: str) -> SourceInfo:
    """Describe an open container as a :class:`SourceInfo`."""
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise SourceError(f"{uri} has neither a video nor an audio track")
    duration = None
    if kind == "file":
        if container.duration:
            duration = float(container.duration) / 1_000_000
        elif video is not None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
    vcodec = _codec_name(video) if video is not None else None
    acodec = _codec_name(audio) if audio is not None else None
    fps = float(video.average_rate) if video is not None and video.average_rate else 0.0
    return SourceInfo(
        id=source_id, uri=uri, kind=kind,  # type: ignore[arg-type]
        duration=duration,
        width=int(video.codec_context.width) if video is not None else 0,
        height=int(video.codec_context.height) if video is not None else 0,
        fps=fps, video_codec=vcodec, audio_codec=acodec,
        audio_channels=int(audio.codec_context.channels) if audio is not None else 0,
        audio_rate=int(audio.codec_context.sample_rate or 0) if audio is not None else 0,
    )


class _Demuxer:
    """Decodes one open container into timeline items (shared by file and live sources)."""

    def __init__(self, container: Any, source_id: str, settings: IngestSettings, uri: str,
                 offset: float, wall_anchor: float | None) -> None:
        self.container = container
        self.source_id = source_id
        self.settings = settings
        self.uri = uri
        self.offset = offset
        self.wall_anchor = wall_anchor
        self.video = container.streams.video[0] if container.streams.video else None
        self.audio = container.streams.audio[0] if container.streams.audio else None
        if self.video is not None:
            ctx = self.video.codec_context
            if (ctx.width or 0) * (ctx.height or 0) > FRAME_THREADS_ABOVE:
                self.video.thread_type = "AUTO"
                # FFmpeg's default pool is one thread per core (plus one): hundreds on a big server.
                ctx.thread_count = min(4, os.cpu_count() or 1)
            else:
                self.video.thread_type, ctx.thread_count = "SLICE", 1
        self.resampler = AudioResampler() if self.audio is not None else None
        self.chunker = AudioChunker(source_id, settings.audio_chunk_seconds)
        self.first_pts: float | None = None
        self.last_time = offset
        self.frame_index = 0
        self._next_video_time = -1.0

    def _time(self, pts: float) -> float:
        if self.first_pts is None:
            self.first_pts = pts
        return self.offset + pts - self.first_pts

    def _wall(self, t: float) -> float | None:
        return None if self.wall_anchor is None else self.wall_anchor + (t - self.offset)

    def items(self, start_at: float = 0.0) -> Iterator[MediaItem]:
        import av

        streams = [s for s in (self.video, self.audio) if s is not None]
        bad = 0
        step = 1.0 / self.settings.decode_fps if self.settings.decode_fps else 0.0
        packets = self.container.demux(streams)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.InvalidDataError as exc:
                bad += 1
                if bad > MAX_BAD_PACKETS:
                    raise SourceError(f"{self.uri}: too many corrupt packets ({exc})") from None
                continue
            try:
                frames = packet.decode()
            except av.error.InvalidDataError as exc:
                bad += 1
                log.warning("%s: skipped a corrupt packet (%s)", self.uri, exc)
                if bad > MAX_BAD_PACKETS:
                    raise SourceError(f"{self.uri}: too many corrupt packets ({exc})") from None
                continue
            for frame in frames:
                if frame.pts is None or frame.time_base is None:
                    continue
                t = self._time(float(frame.pts * frame.time_base))
                if packet.stream is self.video:
                    if t < start_at or (step and t < self._next_video_time):
                        continue
                    self._next_video_time = t + step * 0.999 if step else t
                    self.last_time = max(self.last_time, t)
                    yield VideoItem(frame, t, self.frame_index, self.source_id, self._wall(t))
                    self.frame_index += 1
                elif self.resampler is not None:
                    got = self.resampler.push(frame)
                    if got is None:
                        continue
                    a_start = self._time(got[0])
                    if a_start + len(got[1]) / 16000 < start_at:
                        continue
                    for chunk in self.chunker.push(a_start, got[1], self._wall(a_start)):
                        self.last_time = max(self.last_time, chunk.end)
                        yield chunk
        if self.resampler is not None:
            tail = self.resampler.flush()
            if tail is not None:
                start = self._time(tail[0])
                yield from self.chunker.push(start, tail[1], self._wall(start))
        yield from self.chunker.flush()


class MediaSource:
    """One source: a file, a live URL or a device. Iterate it with :meth:`items`.

    Args:
        uri: path, URL or device (``/dev/video0``).
        settings: ingest settings (reconnect backoff, chunk sizes).
        stop: set it to stop a live source between items.
    """

    def __init__(self, uri: str, settings: IngestSettings | None = None,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings or IngestSettings()
        self.stop = stop or threading.Event()
        self.kind = "live" if _is_live(uri) else "device" if _is_device(uri) else "file"
        if self.kind == "file":
            path = Path(uri).expanduser()
            if not path.exists():
                raise SourceError(f"no such file: {uri}")
            if path.is_dir():
                raise SourceError(f"{uri} is a folder; use expand_sources() for folders")
            self.uri = str(path.resolve())
        else:
            self.uri = uri
        self.id = source_id_for(self.uri)
        self._container: Any = None
        self.info = self._probe()

    # ------------------------------------------------------------------ opening
    def _open(self) -> Any:
        rc = self.settings.reconnect
        if self.kind == "file":
            return _open_container(self.uri)
        if self.kind == "device":
            dev = self.uri.removeprefix("device:")
            dev = f"/dev/video{dev}" if dev.isdigit() else dev
            return _open_container(dev, fmt="v4l2")
        options = {"rw_timeout": str(int(rc.open_timeout * 1e6))}
        if self.uri.startswith("rtsp"):
            options = {"rtsp_transport": "tcp", "timeout": str(int(rc.open_timeout * 1e6))}
        return _open_container(self.uri, options=options, timeout=(rc.open_timeout, rc.open_timeout))

    def _probe(self) -> SourceInfo:
        container = self._open()
        try:
            info = probe_container(container, self.uri, self.kind, self.id)
        except BaseException:
            container.close()
            raise
        if self.kind == "file":
            container.close()
        else:
            self._container = container  # keep the live connection for items()
        return info

    # ------------------------------------------------------------------ reading
    def items(self, start_at: float = 0.0) -> Iterator[MediaItem]:
        """Yield video frames, audio chunks and gaps in (roughly) time order.

        Args:
            start_at: skip media before this time (resume); files seek close to it.
        """
        if self.kind == "file":
            yield from self._file_items(start_at)
        else:
            yield from self._live_items()

    def _file_items(self, start_at: float) -> Iterator[MediaItem]:
        container = _open_container(self.uri)
        with container:
            start_time = float(container.start_time or 0) / 1_000_000
            if start_at > 0:
                try:
                    container.seek(int((start_at + start_time) * 1_000_000), backward=True, any_frame=False)
                except Exception as exc:  # unseekable file: decode from the start and skip
                    log.info("%s: seek failed (%s); decoding from the start", self.uri, exc)
                    container.seek(0)
            demux = _Demuxer(container, self.id, self.settings, self.uri, offset=0.0, wall_anchor=None)
            demux.first_pts = start_time
            yield from demux.items(start_at)

    def _live_items(self) -> Iterator[MediaItem]:
        import av

        rc = self.settings.reconnect
        media_time = 0.0
        session_start = time.time()
        last_data = time.time()
        delay = rc.initial_delay
        container, self._container = self._container, None
        while not self.stop.is_set():
            if container is None:
                try:
                    container = self._open()
                except SourceError as exc:
                    if time.time() - last_data > rc.give_up_after:
                        raise SourceError(f"{self.uri}: no data for {rc.give_up_after:.0f} s ({exc})") from None
                    log.info("reconnect to %s failed (%s); retrying in %.1f s", self.uri, exc, delay)
                    self.stop.wait(delay)
                    delay = min(delay * 2, rc.max_delay)
                    continue
            wall_anchor = session_start + media_time
            demux = _Demuxer(container, self.id, self.settings, self.uri, offset=media_time, wall_anchor=wall_anchor)
            dropped = ""
            try:
                for item in demux.items():
                    yield item
                    last_data = time.time()
                    delay = rc.initial_delay
                    if self.stop.is_set():
                        break
            except SourceError as exc:
                dropped = str(exc)
            except av.error.ExitError:  # PyAV's read timeout fired: the stream stalled
                dropped = f"no data for {rc.open_timeout:g} s"
            except Exception as exc:  # network errors surface as many FFmpeg error types
                dropped = f"{type(exc).__name__}: {exc}"
            finally:
                container.close()
                container = None
            if self.stop.is_set():
                return
            gap_start = max(demux.last_time, media_time)
            log.warning("%s dropped at %.1f s (%s); reconnecting", self.uri, gap_start, dropped or "end of stream")
            self.stop.wait(delay)
            delay = min(delay * 2, rc.max_delay)
            while not self.stop.is_set():
                try:
                    container = self._open()
                    break
                except SourceError as exc:
                    if time.time() - last_data > rc.give_up_after:
                        yield Gap(gap_start, max(gap_start, time.time() - session_start), f"gave up: {exc}",
                                  session_start + gap_start)
                        raise SourceError(f"{self.uri}: no data for {rc.give_up_after:.0f} s ({exc})") from None
                    self.stop.wait(delay)
                    delay = min(delay * 2, rc.max_delay)
            # The media clock follows the wall clock across the gap: measured from the session start,
            # not from when the drop was noticed (a stall is only noticed after the read timeout).
            media_time = max(gap_start, time.time() - session_start)
            yield Gap(gap_start, media_time, dropped or "end of stream", session_start + gap_start)

    def close(self) -> None:
        """Release a held live connection."""
        if self._container is not None:
            self._container.close()
            self._container = None


def expand_sources(uri: str, settings: IngestSettings | None = None,
                   stop: threading.Event | None = None) -> list[MediaSource]:
    """Turn a file, folder, URL or device into sources (a folder gives one per media file).

    Raises:
        SourceError: nothing there, or a folder without media.
    """
    settings = settings or IngestSettings()
    return [MediaSource(one, settings, stop) for one in list_sources(uri, settings)]


def list_sources(uri: str, settings: IngestSettings | None = None) -> list[str]:
    """What :func:`expand_sources` would open, without opening anything (folders are opened lazily).

    Raises:
        SourceError: nothing there, or a folder without media.
    """
    settings = settings or IngestSettings()
    if _is_live(uri) or _is_device(uri):
        return [uri]
    path = Path(uri).expanduser()
    if not path.exists():
        raise SourceError(f"no such file or folder: {uri}")
    if path.is_dir():
        exts = {e.lower() for e in settings.media_extensions}
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in exts)
        if not files:
            raise SourceError(f"no media files in {uri} (looked for {', '.join(sorted(exts))})")
        return [str(f) for f in files]
    return [str(path)]
