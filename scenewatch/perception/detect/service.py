"""``detect_file``: find the user's concepts in a video or image file (the CLI/API entry point)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError, SourceError
from scenewatch.perception.detect import Detector
from scenewatch.perception.detect.stage import ObjectStage, build_tracking_detector, object_targets
from scenewatch.perception.stage import Emit, KeyframeShared, StageContext
from scenewatch.types import Frame, Keyframe, Observation

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
ProgressFn = Callable[[float, float], None]


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


def detect_file(path: Path | str, concepts: Sequence[str] | str, config: Config | None = None,
                media_dir: Path | None = None, progress: ProgressFn | None = None,
                detector: Detector | None = None) -> list[Observation]:
    """Detect and track concepts in a video (or image) file.

    Args:
        path: video or image file.
        concepts: plain-word concepts, a list or one comma-separated string.
        config: settings (default: defaults + env); keyframes follow ``ingest.keyframes``.
        media_dir: where track thumbnails go (default: the store's media dir / source id).
        progress: called with ``(media seconds done, duration)``.
        detector: an already built detector (reused across calls by benchmarks/tests).

    Returns:
        ``object`` observations, one per present track (images: one per box), by start time.

    Raises:
        ScenewatchError: no concepts, none the detector can see, or an unreadable file.
    """
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.ingest.sources import MediaSource, VideoItem
    from scenewatch.perception.concepts import split_concepts

    cfg = config or Config()
    items = split_concepts(concepts) if isinstance(concepts, str) else [c for c in concepts if c.strip()]
    if not items:
        raise ScenewatchError("no concepts given: say what to look for, e.g. --for \"person, dog\"")
    settings = cfg.perception.detect
    det = detector or build_tracking_detector(settings)
    object_targets(det, items, settings, strict=True)  # fail early and clearly
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return _detect_image(path, tuple(items), cfg, det)

    source = MediaSource(str(path), cfg.ingest)
    info = source.info
    if not info.has_video:
        raise SourceError(f"{path} has no video stream")
    media = media_dir or cfg.store.resolved_media_dir() / info.id
    stage = ObjectStage(StageContext(cfg.perception, info, media, tuple(items)), detector=det)
    sampler = KeyframeSampler(cfg.ingest.keyframes, info.width, info.height)
    width = cfg.ingest.keyframes.analysis_width
    final: dict[str, Observation] = {}

    def keep(emits: list[Emit]) -> None:
        for e in emits:
            final[e.key or str(len(final))] = e.observation

    for item in source.items():
        if not isinstance(item, VideoItem):
            continue
        got = sampler.consider(item.thumbnail(width), item.pts)
        if got is None:
            continue
        keep(stage.on_keyframe(Keyframe(item.to_frame(), got[0], got[1], got[2]), KeyframeShared()))
        if progress is not None:
            progress(item.pts, info.duration or 0.0)
    keep(stage.close())
    return sorted(final.values(), key=lambda o: (o.start, o.track_id or 0))


def _detect_image(path: Path, concepts: tuple[str, ...], cfg: Config, det: Detector) -> list[Observation]:
    settings = cfg.perception.detect
    targets = object_targets(det, concepts, settings, strict=True)
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
                               payload={"concept": users[0], "concepts": users, "detector": det.name}))
    return out


def observation_json(obs: Observation) -> dict[str, Any]:
    """JSON-ready view of an object observation (for ``--json`` and the API)."""
    p = obs.payload
    return {
        "track_id": obs.track_id, "label": obs.label, "concept": p.get("concept", obs.label),
        "concepts": p.get("concepts", [obs.label]), "start": round(obs.start, 3), "end": round(obs.end, 3),
        "score": round(obs.confidence, 3), "box": list(obs.box) if obs.box else None,
        "boxes": p.get("boxes", []), "thumbnail": p.get("thumbnail"),
    }


__all__ = ["detect_file", "observation_json", "to_rgb"]
