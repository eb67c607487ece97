"""Decoding images for reading, and the pixel helpers every text reader shares.

Images are decoded here, never by the OCR library (rapidocr decodes some palette PNGs from a
path as a black image). Every odd format becomes ``H×W×3`` uint8 RGB: CMYK, 16-bit, palette,
grey+alpha and RGBA (composited on white), the first frame of an animation, EXIF rotation.
Huge images are reduced while decoding (JPEG draft mode) and capped at ``max_side``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import SourceError
from scenewatch.types import Frame

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm",
                              ".pgm", ".pbm", ".jp2"})
MIN_IMAGE_SIDE = 8  # below this no line of text can be read
MAX_IMAGE_PIXELS = 178_000_000  # refuse to decode more (Pillow's own bomb limit is 2 x 89.5 Mpx)


def is_image_path(path: Path) -> bool:
    """Whether the path looks like a still image (by extension)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def load_image(path: Path, max_side: int = 4096) -> NDArray[np.uint8]:
    """Decode an image file to ``H×W×3`` uint8 RGB with its longest side at most ``max_side``.

    Raises:
        SourceError: missing, undecodable, too small (under 8 px) or absurdly large file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.is_file():
        raise SourceError(f"no such image: {path}")
    try:
        with warnings.catch_warnings():  # the pixel limit is checked below, with a clear message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise SourceError(f"{path.name}: {w}x{h} px is too large to read (limit {MAX_IMAGE_PIXELS:,} px)")
            if min(w, h) < MIN_IMAGE_SIDE:
                raise SourceError(f"{path.name}: {w}x{h} px is too small to hold readable text "
                                  f"(need at least {MIN_IMAGE_SIDE} px a side)")
            frames = int(getattr(im, "n_frames", 1))
            if frames > 1:
                log.info("%s: animated image with %d frames; reading the first", path.name, frames)
                im.seek(0)
            if im.format == "JPEG" and max(w, h) > max_side:
                im.draft(im.mode, (max_side, max_side))  # decode at 1/2, 1/4, 1/8 scale
            im.load()
            rgb = pil_to_rgb(ImageOps.exif_transpose(im) or im)
    except SourceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SourceError(f"cannot decode image {path.name}: {exc}") from exc
    return limit_side(rgb, max_side)


def pil_to_rgb(im: Any) -> NDArray[np.uint8]:
    """Convert a PIL image of any mode to uint8 RGB (alpha composited on white, 16-bit scaled)."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        im = im.convert("RGBA")
        base = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(base, im)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def as_rgb(image: Frame | NDArray[Any]) -> NDArray[np.uint8]:
    """Normalise what a caller hands a reader (a Frame or an array) to ``H×W×3`` uint8 RGB.

    Grey (``H×W``), grey+alpha, RGBA and 16-bit/float arrays are accepted.

    Raises:
        ValueError: not an image-shaped array.
    """
    arr = image.image if isinstance(image, Frame) else np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        top = 65535.0 if arr.dtype == np.uint16 else (1.0 if a.max(initial=0) <= 1.0 else 255.0)
        arr = np.clip(a * (255.0 / top), 0, 255).astype(np.uint8)
    channels = arr.shape[2]
    if channels in (2, 4):  # composite on white
        alpha = arr[:, :, -1:].astype(np.float32) / 255.0
        colour = arr[:, :, :-1].astype(np.float32)
        arr = (colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def limit_side(rgb: NDArray[np.uint8], max_side: int) -> NDArray[np.uint8]:
    """Downscale so the longest side is at most ``max_side`` (area interpolation)."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    import cv2

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    log.info("downscaling %dx%d image to %dx%d", w, h, *size)
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def quad_crop(image: NDArray[np.uint8], quad: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Cut a text line given as a 4-point quad (clockwise from top-left), straightened.

    Tall crops (height ≥ 1.5 × width) are turned 90° so vertical lines reach the recogniser
    as horizontal text, as PP-OCR expects.
    """
    import cv2

    pts = quad.astype(np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts, target)
    crop = cv2.warpPerspective(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    if height >= 1.5 * width:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def jpeg_thumbnail(image: NDArray[np.uint8], box: tuple[float, float, float, float], path: Path,
                   pad: float = 0.15, max_side: int = 320) -> Path:
    """Save the padded box of an RGB image as a small JPEG and return its path."""
    from PIL import Image

    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    px, py = (x2 - x1) * pad, (y2 - y1) * pad + 2
    xa, ya = max(0, int(x1 - px)), max(0, int(y1 - py))
    xb, yb = min(w, int(np.ceil(x2 + px))), min(h, int(np.ceil(y2 + py)))
    crop = Image.fromarray(image[ya:max(yb, ya + 1), xa:max(xb, xa + 1)])
    crop.thumbnail((max_side, max_side))
    path.parent.mkdir(parents=True, exist_ok=True)
    crop.save(path, format="JPEG", quality=85)
    return path
