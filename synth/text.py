"""Seeded text images with exact truth for reading evaluation: small word crops, 180°-turned pages, CJK signs.

Not imported by the package. Latin text uses the DejaVu Sans Bold font of tests/fixtures; CJK
signs need a CJK font file (the benchmark fetches Debian's fonts-wqy-microhei, Apache-2.0).

Example:
    >>> from synth.text import word_crop
    >>> image, truth = word_crop(seed=3)
    >>> image.ndim, bool(truth)
    (3, True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

LATIN_FONT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fonts" / "DejaVuSans-Bold.ttf"
WORDS = (
    "EXIT", "PUSH", "FRAGILE", "DELIVERY", "PARCEL", "OPEN", "CLOSED", "Garage", "Kitchen", "Station", "Platform",
    "Warning", "STOP", "Entrance", "Office", "Keep Out", "Room 214", "Gate B7", "Level 3", "Courier", "Stairs",
    "Recycling", "Welcome", "Pharmacy", "Bakery", "Parking", "Lift", "North", "Tickets", "Toilets",
)
SENTENCES = (
    "The parcel was left at the front door before noon.",
    "Please ring the bell and wait for an answer.",
    "Deliveries are accepted on weekdays only.",
    "Keep this door closed at all times.",
    "Visitors must sign in at the reception desk.",
    "The quick brown fox jumps over the lazy dog.",
    "No parking in front of the garage entrance.",
    "Last collection from this box is at five.",
)
CJK_SIGNS = ("出口", "入口", "禁止吸烟", "小心地滑", "停车场", "欢迎光临", "营业时间", "安全出口", "请勿打扰", "收银台",
             "洗手间", "电梯", "紧急出口", "非常口", "駐車場", "東京駅", "営業中", "お手洗い")
Image = NDArray[np.uint8]


def _font(path: Path, size: int) -> object:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _render(text: str, font_path: Path, size: int, rng: np.random.Generator, pad: tuple[int, int]) -> Image:
    """Text on a plain background with random light/dark colours, a little blur and sensor noise."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    font = _font(font_path, size)
    dark_on_light = bool(rng.random() < 0.7)
    bg = tuple(int(v) for v in (rng.integers(200, 256, 3) if dark_on_light else rng.integers(0, 70, 3)))
    fg = tuple(int(v) for v in (rng.integers(0, 60, 3) if dark_on_light else rng.integers(210, 256, 3)))
    probe = ImageDraw.Draw(PILImage.new("RGB", (1, 1)))
    x0, y0, x1, y1 = probe.textbbox((0, 0), text, font=font)  # type: ignore[arg-type]
    w, h = x1 - x0 + 2 * pad[0], y1 - y0 + 2 * pad[1]
    im = PILImage.new("RGB", (w, h), bg)
    ImageDraw.Draw(im).text((pad[0] - x0, pad[1] - y0), text, font=font, fill=fg)  # type: ignore[arg-type]
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 0.6))))
    arr = np.asarray(im, np.float32) + rng.normal(0.0, rng.uniform(1.0, 6.0), (h, w, 1))
    return np.clip(arr, 0, 255).astype(np.uint8)


def word_crop(seed: int) -> tuple[Image, str]:
    """A small crop around one word or two (text 9–16 px high, as a label far from a camera)."""
    rng = np.random.default_rng(seed)
    text = str(rng.choice(WORDS))
    size = int(rng.integers(11, 19))
    pad = (int(rng.integers(1, 6)), int(rng.integers(1, 5)))
    return _render(text, LATIN_FONT, size, rng, pad), text


def turned_page(seed: int) -> tuple[Image, str]:
    """A short printed page of 3–5 lines, turned 180° (a document held upside down)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    lines = [str(s) for s in rng.choice(SENTENCES, size=int(rng.integers(3, 6)), replace=False)]
    size = int(rng.integers(18, 28))
    font = _font(LATIN_FONT, size)
    width = int(size * 0.62 * max(len(s) for s in lines)) + 60
    height = int(len(lines) * size * 1.6) + 60
    im = PILImage.new("RGB", (width, height), (250, 250, 245))
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((30, 30 + i * size * 1.6), line, font=font, fill=(20, 20, 20))  # type: ignore[arg-type]
    arr = np.asarray(im, np.float32)[::-1, ::-1] + rng.normal(0.0, 3.0, (height, width, 1))
    return np.clip(arr, 0, 255).astype(np.uint8), "\n".join(lines)


def cjk_sign(seed: int, font_path: Path) -> tuple[Image, str]:
    """A small sign in Chinese or Japanese (text 14–28 px high)."""
    rng = np.random.default_rng(seed)
    text = str(rng.choice(CJK_SIGNS))
    pad = (int(rng.integers(3, 12)), int(rng.integers(3, 9)))
    return _render(text, font_path, int(rng.integers(14, 29)), rng, pad), text
