"""Thumbnails in a media dir next to the DB, and a retention policy that prunes both together.

Layout: ``<media dir>/<source>/<milliseconds>_<digest>.jpg``; an observation points at its
thumbnail with its payload's ``thumbnail`` field (:class:`~scenewatch.payloads.ObjectPayload`,
:class:`~scenewatch.payloads.TextPayload`: a path relative to the media dir). Pruning deletes
database rows first (observations, their vectors by FK cascade, events and their outbox),
then the files no remaining row references, so a crash in between leaves only orphan files,
which the next prune collects.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore

if TYPE_CHECKING:
    from scenewatch.memory.settings import StoreSettings

log = logging.getLogger(__name__)

THUMBNAIL_KEY = "thumbnail"
ORPHAN_GRACE_S = 3600.0  # a writer may save a file a moment before committing its row
_BATCH = 500
_AGE = "COALESCE(wall_start, created_at)"


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (or would remove, for a dry run)."""

    observations: int = 0
    events: int = 0
    thumbnails: int = 0
    bytes_freed: int = 0
    media_bytes_after: int = 0
    dry_run: bool = False


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "source"


def write_thumbnail(
    media_dir: Path | str,
    source_id: str,
    t: float,
    image: NDArray[np.uint8],
    box: tuple[float, float, float, float] | None = None,
    max_side: int = 256,
    quality: int = 80,
) -> str:
    """Save a (cropped) JPEG thumbnail and return its path relative to ``media_dir``.

    Args:
        media_dir: the store's media directory.
        source_id: source the frame came from (one sub-folder per source).
        t: media time of the frame, seconds.
        image: ``H×W×3`` uint8 RGB frame.
        box: optional ``[x1, y1, x2, y2]`` pixel region to crop (a region thumbnail).
        max_side: longest side of the saved image.
        quality: JPEG quality.

    Returns:
        The relative path to store as the payload's ``thumbnail``.
    """
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ScenewatchError(f"thumbnail image must be HxWx3 uint8, got {image.shape} {image.dtype}")
    crop = image
    if box is not None:
        h, w = image.shape[:2]
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        if x2 > x1 and y2 > y1:
            crop = image[y1:y2, x1:x2]
    pil = Image.fromarray(np.ascontiguousarray(crop))
    pil.thumbnail((max_side, max_side))
    digest = hashlib.sha1(crop.tobytes()[:1 << 20] + repr(box).encode()).hexdigest()[:10]
    rel = Path(_safe_name(source_id)) / f"{round(t * 1000):010d}_{digest}.jpg"
    path = Path(media_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path, format="JPEG", quality=quality)
    return rel.as_posix()


def media_usage(media_dir: Path | str) -> int:
    """Bytes used by files under ``media_dir`` (0 if it does not exist)."""
    root = Path(media_dir)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def _inside(media_dir: Path, rel: str) -> Path | None:
    """The file a stored thumbnail path names, or ``None`` if it points outside the media dir."""
    root = media_dir.resolve()
    path = (root / rel).resolve()
    return path if path.is_relative_to(root) and path != root else None


def _thumbnail_refs(store: TimelineStore) -> list[tuple[int, str]]:
    """``(observation id, thumbnail path)`` of every row with a thumbnail, oldest first."""
    rows = store.execute(
        f"SELECT id, json_extract(payload, '$.{THUMBNAIL_KEY}') FROM observations "
        f"WHERE json_extract(payload, '$.{THUMBNAIL_KEY}') IS NOT NULL ORDER BY {_AGE}, id"
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def _plan(store: TimelineStore, media: Path, days: float | None, max_gb: float | None,
          now: float) -> tuple[set[int], list[int], set[str]]:
    """Which observations and events go, and which thumbnail files that frees."""
    doomed: set[int] = set()
    events: list[int] = []
    if days is not None:
        cutoff = now - days * 86400.0
        doomed = {int(r[0]) for r in store.execute(f"SELECT id FROM observations WHERE {_AGE} < ?", (cutoff,))}
        events = [int(r[0]) for r in store.execute(
            "SELECT id FROM events WHERE COALESCE(wall_time, created_at) < ?", (cutoff,))]
    refs = _thumbnail_refs(store)
    holders: dict[str, set[int]] = {}
    for oid, thumb in refs:
        holders.setdefault(thumb, set()).add(oid)
    freed = {t for t, ids in holders.items() if ids <= doomed}
    if max_gb is not None:
        cap = int(max_gb * 1e9)
        projected = media_usage(media) - _sizes(media, freed)
        for oid, thumb in refs:  # oldest first
            if projected <= cap:
                break
            doomed.add(oid)
            if thumb not in freed and holders[thumb] <= doomed:
                freed.add(thumb)
                projected -= _sizes(media, {thumb})
    return doomed, events, freed


def prune(
    store: TimelineStore,
    media_dir: Path | str,
    *,
    days: float | None = None,
    max_gb: float | None = None,
    now: float | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Apply retention: drop what is older than ``days``, then the oldest until media fits ``max_gb``.

    Age is the wall-clock time of an observation (live sources) or when it was stored.
    Vectors go with their observations (FK cascade); thumbnails go once no row references them;
    image files nothing references (older than an hour) are collected too.

    Args:
        store: the timeline (opened for writing).
        media_dir: its thumbnails directory.
        days: keep only the last this many days.
        max_gb: cap on the media dir's size; the oldest observations with thumbnails go first.
        now: current Unix time (tests).
        dry_run: report what would go without deleting anything.

    Returns:
        Counts of removed observations, events, thumbnails and bytes.
    """
    media = Path(media_dir)
    now = time.time() if now is None else now
    doomed, events, freed = _plan(store, media, days, max_gb, now)
    if dry_run:
        size = _sizes(media, freed)
        return PruneReport(len(doomed), len(events), len(freed), size, media_usage(media) - size, dry_run=True)
    ids = sorted(doomed)
    with store.transaction() as c:
        for s in range(0, len(ids), _BATCH):
            chunk = ids[s:s + _BATCH]
            c.execute(f"DELETE FROM observations WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        for s in range(0, len(events), _BATCH):
            chunk = events[s:s + _BATCH]
            c.execute(f"DELETE FROM events WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    n_files, size = _remove_files(media, freed)
    still = {thumb for _, thumb in _thumbnail_refs(store)}
    orphans, orphan_bytes = _remove_orphans(media, still, now)
    report = PruneReport(len(ids), len(events), n_files + orphans, size + orphan_bytes, media_usage(media))
    if ids or events or report.thumbnails:
        log.info("pruned %d observations, %d events, %d thumbnails (%d bytes)",
                 report.observations, report.events, report.thumbnails, report.bytes_freed)
    return report


def prune_with_settings(store: TimelineStore, settings: StoreSettings, dry_run: bool = False) -> PruneReport:
    """:func:`prune` with the configured ``store.retention_days`` / ``store.retention_gb``."""
    return prune(store, settings.resolved_media_dir(), days=settings.retention_days,
                 max_gb=settings.retention_gb, dry_run=dry_run)


def _sizes(media: Path, rels: set[str]) -> int:
    total = 0
    for rel in rels:
        path = _inside(media, rel)
        if path is not None and path.is_file():
            total += path.stat().st_size
    return total


def _remove_files(media: Path, rels: set[str]) -> tuple[int, int]:
    count = freed = 0
    for rel in rels:
        path = _inside(media, rel)
        if path is None:
            log.warning("not deleting thumbnail outside the media dir: %s", rel)
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        count, freed = count + 1, freed + size
    return count, freed


def _remove_orphans(media: Path, referenced: set[str], now: float) -> tuple[int, int]:
    """Delete image files no row references (older than the grace period) and empty folders."""
    if not media.is_dir():
        return 0, 0
    root = media.resolve()
    keep = {p for p in (_inside(media, r) for r in referenced) if p is not None}
    count = freed = 0
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".webp"} or path in keep:
            continue
        stat = path.stat()
        if now - stat.st_mtime < ORPHAN_GRACE_S:
            continue
        path.unlink()
        count, freed = count + 1, freed + stat.st_size
    return count, freed
