"""Media for the serving surfaces: a frame at a time (with boxes), thumbnails, clips.

Frames are decoded on demand with PyAV from the source's own URI (the store keeps no frames);
thumbnails are files under the store's media directory and are never served from outside it;
clips are cut by ``ffmpeg`` into a temporary file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scenewatch.errors import ScenewatchError, SourceError
from scenewatch.runtime.queries import BadRequest, NotFound

BOX_COLOURS = {"object": (46, 204, 113), "text": (241, 196, 15), "motion": (52, 152, 219)}


def safe_media_path(media_dir: Path, relative: str) -> Path:
    """The file ``relative`` names inside ``media_dir``.

    Absolute paths are accepted only when they already point inside ``media_dir`` (older rows
    stored them so). Anything resolving outside — ``..``, symlinks, other roots — is refused.

    Raises:
        BadRequest: the path leaves the media directory.
        NotFound: no such file.
    """
    root = media_dir.resolve()
    if "\x00" in relative or len(relative) > 1024:
        raise BadRequest("invalid media path")
    candidate = Path(relative)
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not target.is_relative_to(root):
        raise BadRequest("media path must stay inside the media directory")
    if not target.is_file():
        raise NotFound(f"no media file {relative!r}")
    return target


def frame_at(uri: str, t: float, live: bool = False, timeout: float = 10.0) -> np.ndarray:
    """The RGB frame shown at media time ``t`` of a file (the first frame read, for a live URI).

    Raises:
        NotFound: ``t`` is past the end or the source has no video.
        SourceError: the source cannot be opened.
    """
    import av

    try:
        options = {"rtsp_transport": "tcp", "timeout": str(int(timeout * 1e6))} if live else {}
        container = av.open(uri, options=options, timeout=timeout)
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {uri}: {exc}") from None
    try:
        if not container.streams.video:
            raise NotFound("this source has no video")
        stream = container.streams.video[0]
        if not live and t > 0 and stream.time_base is not None:
            container.seek(int(t / stream.time_base), stream=stream, backward=True)
        last = None
        for frame in container.decode(stream):
            pts = float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base else 0.0
            last = frame
            if live or pts + 1e-3 >= t:
                break
        else:
            if last is None or t > 0:
                raise NotFound(f"no frame at {t:.2f} s")
        return last.to_ndarray(format="rgb24") if last is not None else np.zeros((1, 1, 3), np.uint8)
    except av.error.FFmpegError as exc:
        raise SourceError(f"cannot decode {uri}: {exc}") from None
    finally:
        container.close()


def jpeg(image: np.ndarray, boxes: Sequence[tuple[Sequence[float], str, str]] = (), width: int | None = None,
         quality: int = 85) -> bytes:
    """Encode an RGB frame as JPEG, drawing ``(box, label, kind)`` boxes, optionally scaled to ``width``."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    for box, label, kind in boxes:
        colour = BOX_COLOURS.get(kind, (231, 76, 60))
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=3)
        if label:
            draw.rectangle((x1, max(0.0, y1 - 14), x1 + 7 * len(label) + 6, y1), fill=colour)
            draw.text((x1 + 3, max(0.0, y1 - 13)), label, fill=(0, 0, 0))
    if width and width < img.width:
        img = img.resize((width, max(1, round(img.height * width / img.width))))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def cut_clip(uri: str, start: float, end: float, max_seconds: float, timeout: float = 120.0) -> Path:
    """Cut ``[start, end]`` of a file into a temporary MP4 (H.264/AAC); the caller deletes it.

    Raises:
        BadRequest: negative, reversed or too long a range.
        ScenewatchError: ffmpeg is missing or failed.
    """
    if start < 0 or end <= start:
        raise BadRequest(f"clip range must satisfy 0 <= start < end (got {start}..{end})")
    if end - start > max_seconds:
        raise BadRequest(f"clips are limited to {max_seconds:g} s (asked {end - start:g} s)")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ScenewatchError("clips need ffmpeg on PATH (apt-get install ffmpeg)")
    fd, name = tempfile.mkstemp(prefix="scenewatch-clip-", suffix=".mp4")
    Path(name).unlink()
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-i", uri, "-t", f"{end - start:.3f}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-movflags", "+faststart", name]
    import os

    os.close(fd)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        Path(name).unlink(missing_ok=True)
        raise ScenewatchError("cutting the clip took too long") from None
    if proc.returncode != 0 or not Path(name).is_file() or Path(name).stat().st_size == 0:
        Path(name).unlink(missing_ok=True)
        raise NotFound(f"no media in {start:g}..{end:g} s: {proc.stderr.decode(errors='replace')[-200:].strip()}")
    return Path(name)
