"""Identity on person tracks: the objects stage hands its open tracks here once per keyframe.

Each person track is looked at no more often than ``interval_seconds``; a face found in the top
of its box is described and matched by a :class:`FaceBook`. The track's identity is the name
with the most summed similarity over its sightings (an unknown face's cluster reads
``"unknown #ID"``, which ``scenewatch people name ID NAME`` can later name).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.faces.gallery import FaceMatch, Gallery
from scenewatch.perception.faces.recognizer import FaceRecognizer, FaceSighting
from scenewatch.perception.faces.settings import FaceSettings

log = logging.getLogger(__name__)


class FaceBook(Protocol):
    """Where faces are matched and unknown ones kept (the runtime backs it with the store)."""

    def observe(self, sighting: FaceSighting) -> FaceMatch:
        """Match one face; an unknown face joins or starts a cluster."""
        ...


@dataclass
class MemoryFaceBook:
    """An in-process :class:`FaceBook` over a :class:`Gallery` (nothing persisted)."""

    gallery: Gallery

    def observe(self, sighting: FaceSighting) -> FaceMatch:
        """Match against the gallery, clustering unknown faces in memory."""
        return self.gallery.observe(sighting.vector)


class PersonTrack(Protocol):
    """What the annotator reads and writes on a track record."""

    track_id: int
    label: str
    boxes: list[tuple[float, list[float], float]]
    identity: str | None
    identity_score: float | None


@dataclass
class _Votes:
    last_try: float = float("-inf")
    scores: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)


def identity_label(match: FaceMatch) -> str:
    """The identity text a track carries for a match."""
    return match.name if match.name is not None else f"unknown #{match.person_id}"


class TrackFaces:
    """Adds ``identity``/``identity_score`` to person tracks.

    Args:
        settings: face settings (thresholds, person labels, sampling interval).
        recognizer: an already built recognizer (tests); built from ``settings`` otherwise.
        book: where faces are matched; an empty in-memory gallery until :meth:`attach` is called.
    """

    def __init__(self, settings: FaceSettings, recognizer: FaceRecognizer | None = None,
                 book: FaceBook | None = None) -> None:
        self.settings = settings
        self.recognizer = recognizer or FaceRecognizer(settings)
        self.book: FaceBook = book or MemoryFaceBook(Gallery(settings.match_threshold, settings.cluster_threshold))
        self._votes: dict[int, _Votes] = {}
        self.runs = 0

    def attach(self, book: FaceBook) -> None:
        """Use ``book`` (e.g. the store's enrolled people) from now on."""
        self.book = book

    def annotate(self, t: float, image: NDArray[np.uint8], tracks: Iterable[PersonTrack]) -> None:
        """Look for faces on the person tracks seen at time ``t`` and update their identity."""
        for rec in tracks:
            if rec.label not in self.settings.person_labels or not rec.boxes or rec.boxes[-1][0] != t:
                continue
            votes = self._votes.setdefault(rec.track_id, _Votes())
            if t - votes.last_try < self.settings.interval_seconds:
                continue
            votes.last_try = t
            self.runs += 1
            sighting = self.recognizer.describe(image, np.asarray(rec.boxes[-1][1], np.float32))
            if sighting is None:
                continue
            match = self.book.observe(sighting)
            who = identity_label(match)
            votes.scores[who] = votes.scores.get(who, 0.0) + match.score
            votes.best[who] = max(votes.best.get(who, 0.0), match.score)
            top = max(votes.scores, key=lambda k: votes.scores[k])
            rec.identity, rec.identity_score = top, round(votes.best[top], 3)
            log.debug("track %d at %.2fs: %s (%.2f)", rec.track_id, t, who, match.score)

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the votes of closed tracks."""
        for tid in track_ids:
            self._votes.pop(tid, None)
