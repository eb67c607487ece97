"""Cut a source to a span with PyAV: packets are copied (no re-encode) when the container allows it.

A stream copy can only start on a keyframe, so the clip starts at the last keyframe at or before the
asked start; :class:`Clip` says where it really starts, and every time written into a dataset is
relative to that start. When copying fails (a codec the MP4 muxer refuses, a broken index) the span is
decoded and re-encoded with libx264 (video only), which is slower but exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from scenewatch.errors import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """A cut piece of a source.

    Attributes:
        path: the clip file.
        start: source time (seconds) of the clip's first frame; clip time 0.
        duration: clip length in seconds.
        width: frame width in pixels.
        height: frame height in pixels.
        copied: True when packets were copied, False when re-encoded.
    """

    path: Path
    start: float
    duration: float
    width: int
    height: int
    copied: bool


def probe_clip(path: Path) -> tuple[float, int, int]:
    """``(duration seconds, width, height)`` of a video file, decoding its first frame to prove it decodes.

    Raises:
        SourceError: the file is missing, has no video stream or does not decode.
    """
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise SourceError(f"{path}: no video stream")
            v = c.streams.video[0]
            frame = next(c.decode(v), None)
            if frame is None:
                raise SourceError(f"{path}: no frame decodes")
            if c.duration is not None:
                duration = float(c.duration) / 1_000_000
            elif v.duration is not None and v.time_base is not None:
                duration = float(v.duration * v.time_base)
            else:
                duration = 0.0
            return duration, int(frame.width), int(frame.height)
    except (av.error.FFmpegError, OSError, StopIteration) as exc:
        raise SourceError(f"{path}: cannot decode: {exc}") from None


def cut_clip(source: Path, start: float, end: float, out: Path) -> Clip:
    """Write ``source[start:end]`` to ``out`` (MP4), copying packets when possible.

    Args:
        source: the media file.
        start: span start, seconds.
        end: span end, seconds (clamped to the source).
        out: the clip path (parent created).

    Raises:
        SourceError: the source cannot be read or the span holds no video.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        first = _copy_span(source, start, end, out)
        copied = True
    except Exception as exc:  # the muxer or the index refused a copy: fall back to an exact re-encode
        log.warning("stream copy of %s failed (%s); re-encoding the span", source, exc)
        first = _reencode_span(source, start, end, out)
        copied = False
    duration, width, height = probe_clip(out)
    return Clip(path=out, start=first, duration=duration, width=width, height=height, copied=copied)


def _copy_span(source: Path, start: float, end: float, out: Path) -> float:
    import av

    with av.open(str(source)) as inp:
        if not inp.streams.video:
            raise SourceError(f"{source}: no video stream")
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        with av.open(str(out), "w", format="mp4") as dst:
            vout = dst.add_stream_from_template(vin)
            aout = dst.add_stream_from_template(ain) if ain is not None else None
            assert vin.time_base is not None
            inp.seek(max(0, int(start / vin.time_base)), stream=vin, backward=True, any_frame=False)
            first: float | None = None
            video_done = audio_done = ain is None
            streams = [s for s in (vin, ain) if s is not None]
            for pkt in inp.demux(*streams):
                if pkt.dts is None or pkt.time_base is None:
                    continue
                t = float((pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base)
                is_video = pkt.stream.index == vin.index
                if is_video:
                    if first is None:
                        if not pkt.is_keyframe:
                            continue
                        first = t
                    if float(pkt.dts * pkt.time_base) > end:
                        video_done = True
                        if audio_done:
                            break
                        continue
                else:
                    if first is None or t < first:
                        continue
                    if t > end:
                        audio_done = True
                        if video_done:
                            break
                        continue
                shift = round(first / pkt.time_base)
                pkt.pts = None if pkt.pts is None else pkt.pts - shift
                pkt.dts = pkt.dts - shift
                pkt.stream = vout if is_video else aout  # type: ignore[assignment]
                dst.mux(pkt)
            if first is None:
                raise SourceError(f"{source}: no keyframe before {end:.2f} s")
            return first


def _reencode_span(source: Path, start: float, end: float, out: Path) -> float:
    import av

    with av.open(str(source)) as inp:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        with av.open(str(out), "w", format="mp4") as dst:
            vs = dst.add_stream("libx264", rate=rate)
            vs.pix_fmt = "yuv420p"
            first: float | None = None
            for frame in inp.decode(vin):
                if frame.time is None or frame.time < start:
                    continue
                if frame.time > end:
                    break
                if first is None:
                    first = float(frame.time)
                    vs.width, vs.height = frame.width, frame.height
                img = frame.reformat(format="yuv420p")
                img.pts = round((float(frame.time) - first) * rate)
                img.time_base = Fraction(1, 1) / rate
                for p in vs.encode(img):
                    dst.mux(p)
            for p in vs.encode():
                dst.mux(p)
            if first is None:
                raise SourceError(f"{source}: no frame between {start:.2f} and {end:.2f} s")
            return first
