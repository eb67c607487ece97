"""The encoder fallback takes the caller's encoder; here a tiny bag-of-words one built in the test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from scenewatch.vocabulary.similar import nearest_labels

VOCAB = ["hair", "dryer", "drier", "dog", "puppy", "kettle", "motorcycle", "motorbike", "tv", "television"]
SAME = {"drier": "dryer", "puppy": "dog", "motorbike": "motorcycle", "television": "tv"}


def bag_of_words(texts: Sequence[str]) -> NDArray[np.float32]:
    out = np.zeros((len(texts), len(VOCAB)), np.float32)
    for i, text in enumerate(texts):
        for w in text.lower().split():
            w = SAME.get(w, w)
            if w in VOCAB:
                out[i, VOCAB.index(w)] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def test_nearest_label_per_space_above_the_threshold() -> None:
    spaces = {"objects": ["hair drier", "dog", "motorcycle", "tv"], "sounds": ["Dog", "Kettle whistle"]}
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> NDArray[np.float32]:
        calls.append(len(texts))
        return bag_of_words(texts)

    rows = nearest_labels(["hair dryer", "puppy", "motorbike", "happiness"], spaces, embed, threshold=0.6)
    assert [(s, lab) for s, lab, _ in rows[0]] == [("objects", "hair drier")] and rows[0][0][2] > 0.99
    assert [(s, lab) for s, lab, _ in rows[1]] == [("objects", "dog"), ("sounds", "Dog")]
    assert rows[2][0][:2] == ("objects", "motorcycle") and rows[3] == []
    assert calls == [4, 4, 2], "phrases once, then each label space"
    cached = {"objects": bag_of_words(spaces["objects"]), "sounds": bag_of_words(spaces["sounds"])}
    calls.clear()
    again = nearest_labels(["hair dryer"], spaces, embed, 0.6, label_vectors=cached.__getitem__)
    assert again[0] == rows[0] and calls == [1], "cached label vectors are not re-embedded"
