"""Helpers for the OCR tests: a shared reader, text rendering with the fixture font, CER."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

FONT = Path(__file__).parents[1] / "fixtures" / "fonts" / "DejaVuSans-Bold.ttf"


@lru_cache(maxsize=2)
def reader(backend: str = "rapidocr"):
    """One reader per backend for the whole test session (models load once)."""
    from scenewatch.perception.ocr import build_reader
    from scenewatch.perception.ocr.settings import OcrSettings

    return build_reader(OcrSettings(backend=backend))


def cer(hyp: str, ref: str) -> float:
    """Character error rate (jiwer), whitespace runs collapsed."""
    import jiwer

    return float(jiwer.cer(" ".join(ref.split()), " ".join(hyp.split())))


def draw_text(lines: list[tuple[str, tuple[int, int]]], size: tuple[int, int], font_px: int = 24,
              bg: tuple[int, int, int] = (255, 255, 255), fg: tuple[int, int, int] = (0, 0, 0)):
    """A PIL RGB image with each ``(text, (x, y))`` drawn in DejaVu Sans Bold."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), font_px)
    for text, xy in lines:
        draw.text(xy, text, fill=fg, font=font)
    return img


def write_video(path: Path, frames, fps: int = 10) -> None:
    """Encode an iterable of RGB uint8 arrays as H.264."""
    import av

    with av.open(str(path), "w") as out:
        stream = None
        for i, img in enumerate(frames):
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.height, stream.width = img.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"preset": "ultrafast", "crf": "18"}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        assert stream is not None
        for packet in stream.encode():
            out.mux(packet)


def read_video(path: Path, settings=None, *, media_dir: Path | None = None, reader=None) -> list:
    """Text rows of a video through the pipeline's ``text`` stage (``runtime.files.read_file``)."""
    from scenewatch.config import Config
    from scenewatch.perception.ocr.settings import OcrSettings

    cfg = Config()
    perception = cfg.perception.model_copy(update={"ocr": settings or OcrSettings()})
    update: dict = {"perception": perception}
    if media_dir is not None:
        update["store"] = cfg.store.model_copy(update={"media_dir": media_dir})
    from scenewatch.runtime.files import read_file

    return read_file(path, cfg.model_copy(update=update), reader=reader)
