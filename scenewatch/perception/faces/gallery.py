"""Matching face descriptors against enrolled people, and clustering the unknown ones.

Pure numpy over L2-normalised descriptors (cosine similarity = dot product). The gallery is
handed in by the runtime (perception knows no database); :meth:`Gallery.observe` returns what
the runtime should store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class FaceMatch:
    """Who a face is.

    Attributes:
        person_id: the person's (or unknown cluster's) id in the gallery.
        name: the enrolled name; ``None`` for an unnamed cluster of unknown faces.
        score: best cosine similarity to that person's stored descriptors.
        new: the face started a new unknown cluster.
    """

    person_id: int
    name: str | None
    score: float
    new: bool = False


@dataclass
class Gallery:
    """Descriptors per person id (named people and unnamed clusters).

    Args:
        match_threshold: similarity at which a face is a named person.
        cluster_threshold: similarity at which an unknown face joins an unnamed cluster.
    """

    match_threshold: float = 0.57
    cluster_threshold: float = 0.6
    names: dict[int, str | None] = field(default_factory=dict)
    vectors: dict[int, list[NDArray[np.float32]]] = field(default_factory=dict)
    _next_id: int = -1

    def add(self, person_id: int, name: str | None, vector: NDArray[np.float32]) -> None:
        """Add one stored descriptor of a person or cluster."""
        self.names[person_id] = name
        self.vectors.setdefault(person_id, []).append(_unit(vector))

    def best(self, vector: NDArray[np.float32], named: bool) -> FaceMatch | None:
        """The most similar named person (``named``) or unnamed cluster, whatever the score."""
        v = _unit(vector)
        best: FaceMatch | None = None
        for pid, vecs in self.vectors.items():
            if (self.names.get(pid) is not None) != named or not vecs:
                continue
            score = float(np.max(np.stack(vecs) @ v))
            if best is None or score > best.score:
                best = FaceMatch(pid, self.names.get(pid), score)
        return best

    def identify(self, vector: NDArray[np.float32]) -> FaceMatch | None:
        """The enrolled person this face is, or ``None`` when nobody is similar enough."""
        hit = self.best(vector, named=True)
        return hit if hit is not None and hit.score >= self.match_threshold else None

    def observe(self, vector: NDArray[np.float32]) -> FaceMatch:
        """Identify a face, else put it in the closest unknown cluster or start a new one.

        New clusters get negative provisional ids until the runtime stores them (see
        :meth:`rename_id`). The descriptor is added to the cluster it joins.
        """
        known = self.identify(vector)
        if known is not None:
            return known
        near = self.best(vector, named=False)
        if near is not None and near.score >= self.cluster_threshold:
            self.vectors[near.person_id].append(_unit(vector))
            return near
        pid = self._next_id
        self._next_id -= 1
        self.add(pid, None, vector)
        return FaceMatch(pid, None, 1.0, new=True)

    def rename_id(self, old: int, new: int) -> None:
        """Re-key a provisional cluster id once it has a stored id."""
        self.names[new] = self.names.pop(old)
        self.vectors[new] = self.vectors.pop(old)


def _unit(v: NDArray[np.float32]) -> NDArray[np.float32]:
    v = np.asarray(v, np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)
