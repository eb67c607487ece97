"""Known people: enrol, list, name and forget faces (biometric data, kept only in the local store).

Every surface (``scenewatch people …``) calls these functions. Descriptors are stored as float32
blobs in ``face_embeddings`` with a small JPEG crop of the face; ``forget`` deletes both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scenewatch.config import Config
from scenewatch.errors import ConfigError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import TimelineStore
from scenewatch.perception.faces.gallery import FaceMatch, Gallery
from scenewatch.perception.faces.recognizer import FaceRecognizer, FaceSighting

log = logging.getLogger(__name__)

MODEL = "faceres"


@dataclass(frozen=True)
class PersonEntry:
    """One enrolled person or unnamed cluster of unknown faces, as listed to a user."""

    id: int
    name: str | None
    faces: int
    created_at: float


def _open(config: Config) -> TimelineStore:
    return open_store(config.store.target)


def _jpeg(crop: NDArray[np.uint8], side: int = 112) -> bytes:
    import cv2

    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return bytes(buf) if ok else b""


def _read_rgb(path: Path) -> NDArray[np.uint8]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ConfigError(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def store_face(store: TimelineStore, person_id: int, sighting: FaceSighting, source: str = "",
               keep_crop: bool = True) -> int:
    """Add one described face (and, with ``keep_crop``, a 112 px JPEG crop) to a person or cluster."""
    crop = _jpeg(sighting.crop) if keep_crop else None
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO face_embeddings (person_id, model, vector, crop, source, created_at) VALUES (?,?,?,?,?,?)",
            (person_id, MODEL, sighting.vector.astype(np.float32).tobytes(), crop, source, time.time()))
        return int(cur.lastrowid or 0)


def new_person(store: TimelineStore, name: str | None) -> int:
    """Create a named person or (``name=None``) an unnamed cluster; returns its id."""
    with store.transaction() as conn:
        cur = conn.execute("INSERT INTO people (name, created_at) VALUES (?, ?)", (name, time.time()))
        return int(cur.lastrowid or 0)


def load_gallery(store: TimelineStore, config: Config) -> Gallery:
    """Every stored descriptor, grouped by person or cluster."""
    faces = config.perception.faces
    gallery = Gallery(faces.match_threshold, faces.cluster_threshold)
    rows = store.execute("SELECT p.id, p.name, f.vector FROM face_embeddings f JOIN people p ON p.id = f.person_id "
                         "WHERE f.model = ? ORDER BY f.id", (MODEL,))
    for pid, name, blob in rows:
        gallery.add(int(pid), name, np.frombuffer(blob, np.float32))
    return gallery


def record_sighting(store: TimelineStore, gallery: Gallery, sighting: FaceSighting, match: FaceMatch,
                    source: str = "", keep_crop: bool = True) -> FaceMatch:
    """Persist an unknown face into its cluster (creating the cluster when new); named matches store nothing."""
    if match.name is not None:
        return match
    pid = match.person_id
    if match.new:
        pid = new_person(store, None)
        gallery.rename_id(match.person_id, pid)
    store_face(store, pid, sighting, source, keep_crop)
    return FaceMatch(pid, None, match.score, match.new)


class StoreFaceBook:
    """A face book backed by the timeline store: enrolled people match, unknown faces are clustered and kept.

    At most ``max_faces_per_cluster`` descriptors are stored per unknown cluster; crops only when
    ``keep_crops``.
    """

    def __init__(self, store: TimelineStore, config: Config) -> None:
        self.store = store
        self.settings = config.perception.faces
        self.gallery = load_gallery(store, config)

    def observe(self, sighting: FaceSighting) -> FaceMatch:
        """Match one face and persist it when it is unknown."""
        match = self.gallery.observe(sighting.vector)
        if match.name is not None:
            return match
        if not match.new and len(self.gallery.vectors.get(match.person_id, [])) > self.settings.max_faces_per_cluster:
            return match
        return record_sighting(self.store, self.gallery, sighting, match, keep_crop=self.settings.keep_crops)


def add_person(config: Config, name: str, images: Sequence[Path],
               recognizer: FaceRecognizer | None = None) -> PersonEntry:
    """Enrol ``name`` from photos (the largest face in each); photos with no face are refused."""
    name = name.strip()
    if not name:
        raise ConfigError("a person needs a name")
    rec = recognizer or FaceRecognizer(config.perception.faces)
    sightings: list[tuple[Path, FaceSighting]] = []
    for path in images:
        sighting = rec.describe(_read_rgb(path))
        if sighting is None:
            raise ConfigError(f"no face found in {path}: use a photo with the face clearly visible")
        sightings.append((path, sighting))
    with _open(config) as store:
        row = store.execute("SELECT id FROM people WHERE name = ?", (name,))
        pid = int(row[0][0]) if row else new_person(store, name)
        for path, sighting in sightings:
            store_face(store, pid, sighting, str(path))
        log.info("enrolled %s from %d photo(s)", name, len(sightings))
        return _entry(store, pid)


def list_people(config: Config) -> list[PersonEntry]:
    """Named people first, then unnamed clusters (most faces first)."""
    with _open(config) as store:
        rows = store.execute("SELECT p.id, p.name, COUNT(f.id), p.created_at FROM people p "
                             "LEFT JOIN face_embeddings f ON f.person_id = p.id GROUP BY p.id")
    out = [PersonEntry(int(i), n, int(c), float(t)) for i, n, c, t in rows]
    return sorted(out, key=lambda e: (e.name is None, -e.faces if e.name is None else 0, e.name or "", e.id))


def name_cluster(config: Config, cluster_id: int, name: str) -> PersonEntry:
    """Name an unknown-face cluster; if ``name`` is already enrolled, its faces join that person."""
    name = name.strip()
    if not name:
        raise ConfigError("a person needs a name")
    with _open(config) as store:
        row = store.execute("SELECT name FROM people WHERE id = ?", (cluster_id,))
        if not row:
            raise ConfigError(f"no face cluster {cluster_id} (see `scenewatch people list`)")
        if row[0][0] is not None:
            raise ConfigError(f"{cluster_id} is already named {row[0][0]!r}")
        existing = store.execute("SELECT id FROM people WHERE name = ?", (name,))
        with store.transaction() as conn:
            if existing:
                target = int(existing[0][0])
                conn.execute("UPDATE face_embeddings SET person_id = ? WHERE person_id = ?", (target, cluster_id))
                conn.execute("DELETE FROM people WHERE id = ?", (cluster_id,))
            else:
                target = cluster_id
                conn.execute("UPDATE people SET name = ? WHERE id = ?", (name, cluster_id))
        return _entry(store, target)


def forget_person(config: Config, name: str) -> int:
    """Delete a person (by name, or an unnamed cluster by id) with all its face descriptors and crops.

    Returns:
        The number of faces deleted.
    """
    with _open(config) as store:
        row = store.execute("SELECT id FROM people WHERE name = ?", (name,))
        if not row and name.isdigit():
            row = store.execute("SELECT id FROM people WHERE id = ? AND name IS NULL", (int(name),))
        if not row:
            raise ConfigError(f"nobody called {name!r} is enrolled (see `scenewatch people list`)")
        pid = int(row[0][0])
        with store.transaction() as conn:
            n = conn.execute("DELETE FROM face_embeddings WHERE person_id = ?", (pid,)).rowcount
            conn.execute("DELETE FROM people WHERE id = ?", (pid,))
        return int(n)


def _entry(store: TimelineStore, pid: int) -> PersonEntry:
    (row,) = store.execute("SELECT p.id, p.name, COUNT(f.id), p.created_at FROM people p "
                           "LEFT JOIN face_embeddings f ON f.person_id = p.id WHERE p.id = ? GROUP BY p.id", (pid,))
    return PersonEntry(int(row[0]), row[1], int(row[2]), float(row[3]))
