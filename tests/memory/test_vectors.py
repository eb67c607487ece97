"""Vector index: incremental embedding, consistency with the store, model bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from memory_corpus import fill_store, scene_observations

from scenewatch.errors import ScenewatchError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import TimelineStore
from scenewatch.memory.vectors import (
    EmbeddingModelMismatch,
    VectorIndex,
    index_pending,
    observation_text,
    reembed,
)
from scenewatch.types import Observation


class HashEmbedder:
    """A deterministic fake model: a unit vector from the text's hash (counts its calls)."""

    def __init__(self, name: str = "fake/hash", dim: int = 16) -> None:
        self.model_name, self.dim, self.calls = name, dim, 0

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim) for t in texts]) \
            if texts else np.zeros((0, self.dim))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_index_is_incremental_and_dedupes_sentences(timeline: TimelineStore) -> None:
    fill_store(timeline, scene_observations())
    emb = HashEmbedder()
    n = index_pending(timeline, emb)
    assert n == timeline.count() and VectorIndex.for_store(timeline).count() == n
    unique = {observation_text(o.kind, o.label, o.text) for o in timeline.observations()}
    assert emb.calls == len(unique) < n  # 11 identical OCR rows are embedded once
    assert index_pending(timeline, emb) == 0  # nothing new
    fill_store(timeline, [Observation("sound", "scene", 25.0, 26.0, label="Siren")])
    assert index_pending(timeline, emb) == 1
    assert VectorIndex.for_store(timeline).model() == ("fake/hash", 16)


def test_vector_search_finds_exact_vector_and_filters(timeline: TimelineStore) -> None:
    ids = fill_store(timeline, scene_observations())
    emb = HashEmbedder()
    index_pending(timeline, emb)
    index = VectorIndex.for_store(timeline)
    doorbell = next(o for o in timeline.observations(kinds=["sound"]))
    query = emb.embed_texts([observation_text("sound", "Doorbell", "")])[0]
    hits = index.search(query, k=3)
    assert hits[0].observation_id == doorbell.id and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert index.search(query, k=3, kinds=["speech"])[0].observation_id != doorbell.id
    assert all(h.observation_id != doorbell.id for h in index.search(query, k=50, until=11.0))
    assert index.search(query, k=5, source_id="elsewhere") == []
    assert set(index.vectors(ids[:3])) == set(ids[:3])


def test_deleted_and_edited_observations_leave_the_index(timeline: TimelineStore) -> None:
    fill_store(timeline, scene_observations())
    emb = HashEmbedder()
    index_pending(timeline, emb)
    index = VectorIndex.for_store(timeline)
    total = index.count()
    q = emb.embed_texts([observation_text("speech", "speech", timeline.observations(kinds=["speech"])[0].text)])[0]
    assert index.search(q, k=1)[0].score == pytest.approx(1.0, abs=1e-5)  # warms the cache
    removed = timeline.reset_source("scene", after=15.0)  # speech and late rows go (FK cascade)
    assert removed > 0 and index.count() == total - removed
    assert all(h.score < 0.99 for h in index.search(q, k=5))  # the cache noticed
    # an edited text makes its vector stale: it is dropped, then re-embedded
    obs = timeline.observations(kinds=["text"])[0]
    timeline.commit_batch([], updates=[Observation(obs.kind, obs.source_id, obs.start, obs.end, label=obs.label,
                                                    text="PRIORITY MAIL 2", id=obs.id)])
    assert index_pending(timeline, emb) == 1
    q2 = emb.embed_texts([observation_text("text", "text", "PRIORITY MAIL 2")])[0]
    assert index.search(q2, k=1)[0].observation_id == obs.id
    # a grown span with the same words keeps its vector
    timeline.commit_batch([], updates=[Observation(obs.kind, obs.source_id, obs.start, obs.end + 5, label=obs.label,
                                                    text="PRIORITY MAIL 2", id=obs.id)])
    assert index_pending(timeline, emb) == 0


def test_mixing_models_is_an_error_until_reembed(timeline: TimelineStore) -> None:
    fill_store(timeline, scene_observations())
    index_pending(timeline, HashEmbedder("fake/a", 16))
    fill_store(timeline, [Observation("sound", "scene", 25.0, 26.0, label="Siren")])
    for other in (HashEmbedder("fake/b", 16), HashEmbedder("fake/a", 32)):
        with pytest.raises(EmbeddingModelMismatch, match="reembed") as err:
            index_pending(timeline, other)
        assert isinstance(err.value, ScenewatchError) and "\n" not in str(err.value)
    new = HashEmbedder("fake/b", 8)
    assert reembed(timeline, new) == timeline.count()
    index = VectorIndex.for_store(timeline)
    assert index.model() == ("fake/b", 8)
    assert index.search(new.embed_texts(["sound of Siren"])[0], k=1)[0].score == pytest.approx(1.0, abs=1e-5)


def test_index_survives_reopen(store_target) -> None:  # type: ignore[no-untyped-def]
    with open_store(store_target) as s:
        fill_store(s, scene_observations())
        index_pending(s, HashEmbedder())
    with open_store(store_target, readonly=True) as s:
        index = VectorIndex.for_store(s)
        assert index.count() == s.count() and index.model() == ("fake/hash", 16)
        assert len(index.search(HashEmbedder().embed_texts(["sound of Doorbell"])[0], k=3)) == 3
