"""The text-encoder fallback: the labels nearest in meaning to a phrase no rule resolves.

The vocabulary never builds a model: the caller hands in its encoder as a callable (texts →
L2-normalised vectors; the configured ``perception.embed`` backend) and, optionally, label
vectors it has cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

#: Texts → L2-normalised ``N×dim`` vectors.
Embed = Callable[[Sequence[str]], NDArray[np.float32]]


def nearest_labels(phrases: Sequence[str], spaces: Mapping[str, Sequence[str]], embed: Embed, threshold: float,
                   label_vectors: Callable[[str], NDArray[np.float32]] | None = None,
                   ) -> list[list[tuple[str, str, float]]]:
    """Per phrase, the best label of each label space whose cosine similarity reaches ``threshold``.

    Args:
        phrases: the phrases (their heads: "hair dryer", not "a hair dryer in the bathroom").
        spaces: space name (``objects``, ``sounds``) → its labels.
        embed: the caller's text encoder.
        threshold: the similarity a label needs.
        label_vectors: space name → ``L×dim`` vectors of its labels (a cache); default: ``embed(labels)``.

    Returns:
        Per phrase, ``(space, label, score)`` best first; empty when nothing is close enough.
    """
    out: list[list[tuple[str, str, float]]] = [[] for _ in phrases]
    if not phrases:
        return out
    queries = np.asarray(embed(list(phrases)), np.float32)
    for space, labels in spaces.items():
        if not labels:
            continue
        vecs = label_vectors(space) if label_vectors is not None else np.asarray(embed(list(labels)), np.float32)
        if not len(vecs) or vecs.shape[1] != queries.shape[1]:
            continue
        sims = queries @ vecs.T
        for q, i in enumerate(np.argmax(sims, axis=1)):
            score = float(sims[q, i])
            if score >= threshold:
                out[q].append((space, labels[int(i)], score))
    return [sorted(row, key=lambda t: -t[2]) for row in out]
