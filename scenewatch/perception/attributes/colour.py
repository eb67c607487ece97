"""Dominant colour of an object as one of the 11 basic colour terms, measured in CIELAB.

Pixels are converted to CIELAB (OpenCV, D65) so distances follow perceived difference. A pixel
with little chroma is achromatic and named by lightness alone (black / grey / white); a
chromatic pixel takes the term of its nearest focal colour, with lightness weighted down so
that shading on a curved surface does not change its name. The object's colour is the term
with the largest (weighted) share of its pixels.

Which pixels are the object's: a foreground mask when one is known (arrivals); otherwise the
box is centre-weighted and pixels that look like the box's border ring (the background around
the object) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BASIC_COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")

#: Focal sRGB colours of the chromatic terms (several shades each: light, mid, dark).
_FOCAL: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((220, 20, 30), (255, 0, 0), (160, 15, 20), (200, 50, 50), (120, 10, 15)),
    "orange": ((255, 140, 0), (240, 120, 30), (255, 165, 70), (220, 100, 20)),
    "yellow": ((255, 230, 0), (240, 220, 60), (255, 250, 120), (220, 200, 20)),
    "green": ((0, 160, 0), (40, 200, 60), (20, 100, 30), (110, 190, 80), (0, 140, 100), (0, 80, 20)),
    "blue": ((0, 60, 255), (30, 90, 200), (0, 130, 230), (20, 40, 120), (90, 150, 235), (0, 160, 200), (0, 0, 150)),
    "purple": ((120, 40, 160), (150, 80, 200), (90, 30, 120), (170, 110, 210), (140, 0, 140), (140, 20, 220)),
    "pink": ((255, 150, 200), (255, 100, 170), (240, 170, 190), (230, 80, 150), (255, 190, 210)),
    "brown": ((140, 80, 30), (120, 70, 40), (160, 105, 60), (90, 55, 25), (110, 60, 50), (150, 110, 70)),
}
CHROMA_MIN = 12.0  # CIELAB chroma under which a pixel is black/grey/white
LIGHTNESS_WEIGHT = 0.5  # lightness counts half in the focal-colour distance
MAX_PIXELS = 4096  # pixels sampled per object (the crop is downsized beyond this)


def rgb_to_lab(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``…×3`` uint8 RGB → float32 CIELAB (L 0..100, a/b about −128..127)."""
    import cv2

    flat = rgb.reshape(-1, 1, 3).astype(np.float32) * (1.0 / 255.0)
    lab = np.asarray(cv2.cvtColor(flat, cv2.COLOR_RGB2Lab), np.float32).reshape(*rgb.shape[:-1], 3)
    return lab


def _focal_table() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    names = list(_FOCAL)
    rgb = np.array([c for n in names for c in _FOCAL[n]], np.uint8)
    idx = np.array([BASIC_COLOURS.index(n) for n in names for _ in _FOCAL[n]], np.int64)
    return rgb_to_lab(rgb), idx


_TABLE: tuple[NDArray[np.float32], NDArray[np.int64]] | None = None


def name_pixels(lab: NDArray[np.float32]) -> NDArray[np.int64]:
    """Index into :data:`BASIC_COLOURS` for each CIELAB pixel of an ``N×3`` array."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _focal_table()
    focal, focal_term = _TABLE
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    weight = np.array([LIGHTNESS_WEIGHT, 1.0, 1.0], np.float32)
    dist = (((lab[:, None, :] - focal[None, :, :]) * weight) ** 2).sum(axis=2)
    out = focal_term[np.argmin(dist, axis=1)]
    achromatic = chroma < CHROMA_MIN + 0.08 * np.maximum(lightness - 50.0, 0.0)
    grey = np.where(lightness < 25, BASIC_COLOURS.index("black"),
                    np.where(lightness > 82, BASIC_COLOURS.index("white"), BASIC_COLOURS.index("grey")))
    return np.where(achromatic, grey, out)


@dataclass(frozen=True, slots=True)
class ColourReading:
    """The colour of one object.

    Attributes:
        name: the dominant basic colour term.
        shares: term → share of the object's pixels (largest first, shares ≥ 0.05).
    """

    name: str
    shares: dict[str, float]

    @property
    def names(self) -> list[str]:
        """Terms covering at least a quarter of the object (the dominant one first)."""
        return [n for n, s in self.shares.items() if s >= 0.25] or [self.name]


def _centre_weights(h: int, w: int) -> NDArray[np.float32]:
    yy = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    xx = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    r2 = (yy[:, None] / 0.5) ** 2 + (xx[None, :] / 0.5) ** 2
    out: NDArray[np.float32] = np.clip(1.0 - r2, 0.0, 1.0)
    return out


def _border_ring(image: NDArray[np.uint8], box: tuple[int, int, int, int], pad: int) -> NDArray[np.uint8]:
    x1, y1, x2, y2 = box
    h, w = image.shape[:2]
    ox1, oy1, ox2, oy2 = max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad)
    outer = image[oy1:oy2, ox1:ox2]
    keep = np.ones(outer.shape[:2], bool)
    keep[y1 - oy1:y2 - oy1, x1 - ox1:x2 - ox1] = False
    ring: NDArray[np.uint8] = outer[keep]
    return ring


def object_colour(image: NDArray[np.uint8], box: tuple[float, float, float, float] | NDArray[np.float32],
                  mask: NDArray[np.bool_] | None = None) -> ColourReading | None:
    """The dominant colour of the object in ``box`` of an RGB ``image``.

    Args:
        image: ``H×W×3`` uint8 RGB frame.
        box: ``x1, y1, x2, y2`` in pixels.
        mask: the object's pixels within the box (box-sized bool array), if known.

    Returns:
        The reading, or ``None`` when the box holds too few pixels.
    """
    h, w = image.shape[:2]
    x1, y1 = max(0, int(np.floor(float(box[0])))), max(0, int(np.floor(float(box[1]))))
    x2, y2 = min(w, int(np.ceil(float(box[2])))), min(h, int(np.ceil(float(box[3]))))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    crop = image[y1:y2, x1:x2]
    if mask is not None:
        weights = mask.astype(np.float32)
        if weights.shape != crop.shape[:2] or weights.sum() < 4:
            return None
    else:
        weights = _centre_weights(*crop.shape[:2])
    step = max(1, int(np.ceil(np.sqrt(crop.shape[0] * crop.shape[1] / MAX_PIXELS))))
    crop, weights = crop[::step, ::step], weights[::step, ::step]
    lab = rgb_to_lab(crop).reshape(-1, 3)
    wts = weights.reshape(-1)
    if mask is None:  # drop pixels that look like the background around the box
        pad = max(2, round(0.1 * max(x2 - x1, y2 - y1)))
        ring = _border_ring(image, (x1, y1, x2, y2), pad)
        if len(ring) >= 16:
            ring_lab = rgb_to_lab(ring[:: max(1, len(ring) // 1024)]).reshape(-1, 3)
            ref = np.median(ring_lab, axis=0)
            spread = float(np.median(np.abs(ring_lab - ref).sum(axis=1)))
            like_bg = np.abs(lab - ref).sum(axis=1) < max(12.0, 2.0 * spread)
            if wts[~like_bg].sum() >= 0.15 * wts.sum():
                wts = np.where(like_bg, 0.0, wts)
    if wts.sum() <= 0:
        return None
    terms = name_pixels(lab)
    votes = np.bincount(terms, weights=wts, minlength=len(BASIC_COLOURS))
    votes = votes / votes.sum()
    order = np.argsort(-votes)
    shares = {BASIC_COLOURS[i]: round(float(votes[i]), 3) for i in order if votes[i] >= 0.05}
    return ColourReading(BASIC_COLOURS[int(order[0])], shares)
