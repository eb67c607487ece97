"""Meaning, not only words: does a speech or text row talk about what a question names?

"Did anyone mention their homeland?" must find "…led me to leave my native country". A row
matches a phrase when most of the phrase's content words occur in it (prefix match, the keyword
path) **or** when the embedder puts the phrase close to the row: the best cosine between the
phrase's content words and the row's words, word pairs and whole text. Comparing against the
row's parts, not only its whole, is what lets one word ("physician") find another ("doctor")
inside a long sentence.

The threshold was tuned with all-MiniLM-L6-v2 on the first half of
:data:`synth.questions2.SPEECH` (topic → sentence pairs against every other sentence as a
negative) and is reported on the other half by ``benchmarks/reasoning.py``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from scenewatch.vocabulary.words import STOPWORDS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from scenewatch.memory.vectors import Embedder

MEANING_THRESHOLD = 0.5
"""Cosine (MiniLM) at which a phrase and a row part mean the same thing."""

_WORD = re.compile(r"[a-z][a-z']+")
_SOFT = frozenset({"their", "his", "her", "my", "your", "our", "its", "anyone", "anybody", "someone", "somebody",
                   "mention", "mentioned", "talk", "talked", "about", "any", "something", "thing", "things"})


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` that carry meaning (stop words and pronouns dropped)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and w not in _SOFT and len(w) > 2]


def parts(text: str) -> list[str]:
    """What a row is compared on: its content words, consecutive pairs of them, and the whole text."""
    words = content_words(text)
    return list(dict.fromkeys([*words, *(f"{a} {b}" for a, b in itertools.pairwise(words)), text]))


@dataclass(slots=True)
class MeaningMatcher:
    """Embedding similarity between a phrase and rows, with vectors cached per text."""

    embedder: Embedder
    threshold: float = MEANING_THRESHOLD
    _cache: dict[str, NDArray[np.float32]] = field(default_factory=dict, repr=False)

    def _vectors(self, texts: list[str]) -> NDArray[np.float32]:
        todo = [x for x in dict.fromkeys(texts) if x not in self._cache]
        if todo:
            for x, v in zip(todo, self.embedder.embed_texts(todo), strict=True):
                self._cache[x] = np.asarray(v, np.float32)
        return np.stack([self._cache[x] for x in texts])

    def similarity(self, phrase: str, text: str) -> float:
        """Best cosine between the phrase (its content words) and the parts of ``text``."""
        wanted = " ".join(content_words(phrase)) or phrase
        pieces = parts(text)
        if not pieces or not wanted.strip():
            return 0.0
        vecs = self._vectors([wanted, *pieces])
        return float(np.max(vecs[1:] @ vecs[0]))

    def matches(self, phrase: str, text: str) -> bool:
        """Whether ``text`` talks about ``phrase``."""
        return self.similarity(phrase, text) >= self.threshold
