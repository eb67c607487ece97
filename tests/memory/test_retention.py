"""Retention: DB rows, vectors and thumbnails are pruned together, and nothing outside the media dir."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from memory_corpus import fill_store
from test_vectors import HashEmbedder

from scenewatch.errors import ScenewatchError
from scenewatch.memory.retention import media_usage, prune, write_thumbnail
from scenewatch.memory.store import TimelineStore
from scenewatch.memory.vectors import VectorIndex, index_pending
from scenewatch.payloads import thumbnail_of
from scenewatch.types import Event, Observation

NOW = 1_800_000_000.0
DAY = 86400.0


def _frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (360, 640, 3), dtype=np.uint8)


def _build(store: TimelineStore, media: Path) -> dict[str, list[int]]:
    """20 live rows: 10 from 10 days ago, 10 from the last hour, each with a region thumbnail."""
    rows = []
    for i in range(20):
        wall = NOW - 10 * DAY + i * 60 if i < 10 else NOW - 3600 + i * 60
        thumb = write_thumbnail(media, "cam/1", float(i), _frame(i), box=(100, 50, 300, 250))
        rows.append(Observation("object", "cam/1", float(i), i + 0.5, label="person", track_id=i,
                                wall_start=wall, payload={"thumbnail": thumb}))
    ids = fill_store(store, rows)
    index_pending(store, HashEmbedder())
    store.add_event(Event("person", "cam/1", 0.0, 1.0, observation_ids=(ids[0],), wall_time=NOW - 10 * DAY))
    store.add_event(Event("person", "cam/1", 15.0, 16.0, observation_ids=(ids[15],), wall_time=NOW - 60))
    return {"old": ids[:10], "new": ids[10:]}


def _thumbs(store: TimelineStore) -> set[str]:
    return {t for o in store.observations() if (t := thumbnail_of(o.payload)) is not None}


def test_thumbnail_is_a_small_region_crop(tmp_path: Path) -> None:
    from PIL import Image

    rel = write_thumbnail(tmp_path, "rtsp://cam:554/live?x=1", 12.5, _frame(0), box=(100, 50, 300, 150))
    assert not Path(rel).is_absolute() and ".." not in rel and ":" not in rel
    with Image.open(tmp_path / rel) as im:
        assert im.size == (200, 100)  # the region, at native scale (thumbnails only shrink)
    with Image.open(tmp_path / write_thumbnail(tmp_path, "s", 1.0, _frame(1))) as im:
        assert im.size == (256, 144)  # a whole 640×360 frame, longest side 256
    with pytest.raises(ScenewatchError):
        write_thumbnail(tmp_path, "s", 0.0, np.zeros((4, 4), np.uint8))


def test_prune_by_days_keeps_db_vectors_and_files_consistent(timeline: TimelineStore, tmp_path: Path) -> None:
    media = tmp_path / "media"
    ids = _build(timeline, media)
    before = media_usage(media)
    dry = prune(timeline, media, days=7, now=NOW, dry_run=True)
    assert (dry.observations, dry.events, dry.thumbnails) == (10, 1, 10) and timeline.count() == 20
    report = prune(timeline, media, days=7, now=NOW)
    assert (report.observations, report.events, report.thumbnails) == (10, 1, 10)
    assert report.bytes_freed == dry.bytes_freed > 0 and report.media_bytes_after == before - report.bytes_freed
    left = [o.id for o in timeline.observations()]
    assert left == ids["new"]
    assert VectorIndex.for_store(timeline).count() == 10
    assert set(VectorIndex.for_store(timeline).vectors(ids["old"] + ids["new"])) == set(ids["new"])
    on_disk = {p.relative_to(media).as_posix() for p in media.rglob("*.jpg")}
    assert on_disk == _thumbs(timeline)
    assert [e.start for e in timeline.events()] == [15.0]
    assert prune(timeline, media, days=7, now=NOW).observations == 0  # idempotent


def test_prune_by_size_drops_oldest_first(timeline: TimelineStore, tmp_path: Path) -> None:
    media = tmp_path / "media"
    ids = _build(timeline, media)
    per_file = media_usage(media) / 20
    report = prune(timeline, media, max_gb=5.5 * per_file / 1e9, now=NOW)
    assert media_usage(media) <= 5.5 * per_file < report.media_bytes_after + 2 * per_file
    kept = [o.id for o in timeline.observations()]
    assert kept == ids["new"][-len(kept):] and timeline.count() == 20 - report.observations  # newest survive
    assert VectorIndex.for_store(timeline).count() == len(kept)


def test_shared_foreign_and_orphan_files(timeline: TimelineStore, tmp_path: Path) -> None:
    media = tmp_path / "media"
    outside = tmp_path / "precious.jpg"
    outside.write_bytes(b"not yours")
    shared = write_thumbnail(media, "cam", 1.0, _frame(1))
    fill_store(timeline, [
        Observation("object", "cam", 1.0, 2.0, label="car", wall_start=NOW - 30 * DAY, payload={"thumbnail": shared}),
        Observation("object", "cam", 1.0, 9.0, label="car", wall_start=NOW, payload={"thumbnail": shared}),
        Observation("object", "cam", 1.0, 2.0, label="x", wall_start=NOW - 30 * DAY,
                    payload={"thumbnail": "../precious.jpg"}),
    ])
    orphan = media / "cam" / "stray.jpg"
    orphan.write_bytes(b"\xff\xd8 stray")
    fresh = media / "cam" / "being_written.jpg"
    fresh.write_bytes(b"\xff\xd8 new")
    os.utime(orphan, (NOW - DAY, NOW - DAY))
    os.utime(fresh, (NOW - 10, NOW - 10))
    report = prune(timeline, media, days=7, now=NOW)
    assert report.observations == 2
    assert (media / shared).exists()  # a surviving row still shows it
    assert outside.read_bytes() == b"not yours"  # never delete outside the media dir
    assert not orphan.exists() and fresh.exists()
