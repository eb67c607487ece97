"""``read_path``: read the text in an image or a video file (what ``scenewatch read`` calls).

Images are read whole; every line is an observation at ``start = end = 0``. Videos are
decoded with the ingest layer's source and keyframe sampler (steady ``video_fps`` floor, plus
scene cuts and local changes) and read like the ``text`` pipeline stage does, so each line of
text comes back once, with the span it was visible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scenewatch.errors import SourceError
from scenewatch.ingest.settings import IngestSettings
from scenewatch.perception.ocr import TextReader, build_reader
from scenewatch.perception.ocr.images import is_image_path, load_image
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import Keyframe, Observation

log = logging.getLogger(__name__)

Progress = Callable[[float, float], None]  # (media seconds done, total seconds or 0)


def read_image(path: Path, settings: OcrSettings | None = None,
               reader: TextReader | None = None) -> list[Observation]:
    """Read every line of text in an image file.

    Raises:
        SourceError: the file is missing, not an image, or too small/large.
    """
    settings = settings or OcrSettings()
    reader = reader or build_reader(settings)
    image = load_image(path, settings.max_image_side)
    source_id = path.stem
    return [
        Observation(kind="text", source_id=source_id, start=0.0, end=0.0, label="text", text=r.text,
                    confidence=float(r.score), box=(float(r.box[0]), float(r.box[1]), float(r.box[2]),
                                                    float(r.box[3])))
        for r in reader.read(image)
    ]


def read_video(path: Path, settings: OcrSettings | None = None, *, ingest: IngestSettings | None = None,
               media_dir: Path | None = None, reader: TextReader | None = None,
               progress: Progress | None = None) -> list[Observation]:
    """Read the text in a video: one observation per line of text with its visible span.

    Args:
        path: video file.
        settings: OCR settings (``video_fps`` is the steady keyframe rate).
        ingest: ingest settings (keyframe thresholds); defaults otherwise.
        media_dir: where to save a thumbnail per line (none when ``None``).
        reader: a ready reader (built from ``settings`` when ``None``).
        progress: called with (media seconds read, duration) after each keyframe.

    Raises:
        SourceError: the file cannot be opened or has no video stream.
    """
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.ingest.sources import MediaSource, VideoItem
    from scenewatch.perception.ocr.stage import TextTimeline

    settings = settings or OcrSettings()
    ingest = ingest or IngestSettings()
    ingest = ingest.model_copy(update={"keyframes": ingest.keyframes.model_copy(
        update={"floor_fps": settings.video_fps})})
    source = MediaSource(str(path), ingest)
    info = source.info
    if not info.has_video:
        raise SourceError(f"{path.name}: no video stream to read text from")
    timeline = TextTimeline(settings, info.id, media_dir, reader)
    sampler = KeyframeSampler(ingest.keyframes, info.width, info.height)
    spans = {}
    total = float(info.duration or 0.0)
    for item in source.items():
        if not isinstance(item, VideoItem):
            continue
        got = sampler.consider(item.thumbnail(ingest.keyframes.analysis_width), item.pts)
        if got is None:
            continue
        keyframe = Keyframe(item.to_frame(), got[0], got[1], got[2])
        for update in timeline.on_keyframe(keyframe):
            spans[update.span.id] = update.span
        if progress is not None:
            progress(item.pts, total)
    for update in timeline.close():
        spans[update.span.id] = update.span
    return [timeline.observation(s) for s in sorted(spans.values(), key=lambda s: (s.start, s.id))]


def read_path(path: Path | str, settings: OcrSettings | None = None, *, media_dir: Path | None = None,
              progress: Progress | None = None) -> list[Observation]:
    """Read the text in an image or a video file.

    Args:
        path: image (PNG, JPEG, TIFF, GIF, WebP, …) or video file.
        settings: OCR settings; defaults when ``None``.
        media_dir: where to save thumbnails of video text (none when ``None``).
        progress: called with (media seconds read, duration) while a video is read.

    Returns:
        ``text`` observations in order of appearance (images: all at 0 s, in reading order).

    Raises:
        SourceError: missing or unreadable file, no video stream, image too small or too large.
        BackendUnavailable: the configured reader is not installed.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; give an image or a video file")
    if is_image_path(path):
        return read_image(path, settings)
    return read_video(path, settings, media_dir=media_dir, progress=progress)


def observation_json(obs: Observation) -> dict[str, object]:
    """The ``scenewatch read --json`` shape of an observation."""
    box = obs.box or (0.0, 0.0, 0.0, 0.0)
    return {"start": round(obs.start, 2), "end": round(obs.end, 2), "text": obs.text,
            "box": [round(v) for v in box], "score": round(float(np.clip(obs.confidence, 0, 1)), 3)}
