"""Reading the text in a still image: every line is an observation at ``start = end = 0``.

Videos are read by the pipeline's ``text`` stage (``scenewatch read VIDEO`` runs it through
:func:`scenewatch.runtime.files.read_file`), so keyframes, resume and time stamps are the
pipeline's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from scenewatch.errors import SourceError
from scenewatch.perception.ocr import TextReader, build_reader
from scenewatch.perception.ocr.images import is_image_path, load_image
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import Observation

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


def read_path(path: Path | str, settings: OcrSettings | None = None, *,
              reader: TextReader | None = None) -> list[Observation]:
    """Read the text in an image file (videos are read by the pipeline's ``text`` stage).

    Args:
        path: image (PNG, JPEG, TIFF, GIF, WebP, …).
        settings: OCR settings; defaults when ``None``.
        reader: a ready reader (built from ``settings`` when ``None``).

    Returns:
        ``text`` observations at 0 s, in reading order.

    Raises:
        SourceError: missing, unreadable, not an image, too small or too large.
        BackendUnavailable: the configured reader is not installed.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; give an image file")
    if not is_image_path(path):
        raise SourceError(f"{path.name} is not an image; videos are read by `scenewatch read` (the text stage)")
    return read_image(path, settings, reader)
