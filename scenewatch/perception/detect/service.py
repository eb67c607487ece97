"""Detection on one still image, and turning any image array into detector input."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError, SourceError
from scenewatch.payloads import ObjectPayload
from scenewatch.perception.detect import Detector
from scenewatch.perception.detect.stage import object_targets
from scenewatch.perception.settings import PerceptionSettings
from scenewatch.types import Frame, Observation

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def to_rgb(image: NDArray[Any]) -> NDArray[np.uint8]:
    """Any grey/RGB/RGBA array (uint8, uint16 or float 0..1) → contiguous ``H×W×3`` uint8.

    Raises:
        ScenewatchError: empty or not an image-shaped array.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise ScenewatchError(f"not an image: array of shape {arr.shape}")
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype.kind == "f":
        arr = (np.clip(np.nan_to_num(arr), 0, 1) * 255 + 0.5).astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def _load_image(path: Path) -> NDArray[np.uint8]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (4096, 4096))  # JPEGs decode straight at a bounded size
            im: Image.Image = opened
            if im.mode not in ("RGB", "RGBA", "L", "I;16"):
                im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            return to_rgb(np.asarray(im))
    except (UnidentifiedImageError, OSError) as exc:
        raise SourceError(f"cannot read image {path}: {exc}") from exc


def detect_image(path: Path, concepts: tuple[str, ...], perception: PerceptionSettings,
                 det: Detector) -> list[Observation]:
    """Boxes of the given concepts in one still image (rows at ``start = end = 0``).

    Videos go through the pipeline's ``objects`` stage (``runtime.files.detect_file``); a still
    picture has no timeline to run it on.

    Raises:
        ScenewatchError: no concept the detector can see.
        SourceError: the file is not a readable image.
    """
    settings = perception.detect
    targets = object_targets(det, concepts, settings, strict=True, embed_backend=perception.embed.backend)
    frame = Frame(_load_image(path), 0.0, path.stem)
    dets = det.detect(frame, tuple(targets))
    dets = dets.subset(dets.scores >= settings.score_threshold)  # a tracking detector also returns weak boxes
    out = []
    assert dets.concepts is not None
    for i, label in enumerate(dets.labels):
        users = list(targets.get(dets.concepts[i]) or targets.get(label) or (label,))
        box = tuple(round(float(v), 1) for v in dets.xyxy[i])
        out.append(Observation(kind="object", source_id=path.stem, start=0.0, end=0.0, label=label,
                               text=label, confidence=float(dets.scores[i]), box=box,  # type: ignore[arg-type]
                               payload=ObjectPayload(concept=users[0], concepts=users, detector=det.name)))
    return out


__all__ = ["IMAGE_EXTENSIONS", "detect_image", "to_rgb"]
