"""MiniLM text embedder: real weights from the registry package, no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenewatch.errors import BackendUnavailable, ModelIntegrityError
from scenewatch.perception.embed import EMBEDDERS, Embedder

minilm = pytest.importorskip("scenewatch.perception.embed.minilm")

try:
    minilm.model_dir()
except BackendUnavailable as exc:  # pragma: no cover - depends on the install
    pytest.skip(str(exc), allow_module_level=True)


@pytest.fixture(scope="module", params=["onnx", "numpy"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "onnx":
        pytest.importorskip("onnxruntime")
    return EMBEDDERS.get("minilm")(engine=request.param)  # type: ignore[no-any-return]


def test_engines_agree() -> None:
    pytest.importorskip("onnxruntime")
    texts = ["a courier at the door", "PRIORITY MAIL", ""]
    onnx_vecs = minilm.MiniLMEmbedder(engine="onnx").embed_texts(texts)
    np.testing.assert_allclose(onnx_vecs, minilm.MiniLMEmbedder(engine="numpy").embed_texts(texts), atol=1e-5)


def test_protocol_and_shape(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384 and "MiniLM" in embedder.model_name
    vecs = embedder.embed_texts(["a red car", "", "ünïcödé 日本語 🚗"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_texts([]).shape == (0, 384)


def test_matches_published_similarities(embedder: Embedder) -> None:
    # sentence-transformers' documented example for all-MiniLM-L6-v2: cos = 0.7553, 0.7368, 0.6433.
    v = embedder.embed_texts([
        "A man is eating food.", "A man is eating a piece of bread.",
        "A man is riding a horse.", "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.", "Someone in a gorilla costume is playing a set of drums.",
    ])
    assert float(v[0] @ v[1]) == pytest.approx(0.7553, abs=0.002)
    assert float(v[2] @ v[3]) == pytest.approx(0.7368, abs=0.002)
    assert float(v[4] @ v[5]) == pytest.approx(0.6433, abs=0.002)


def test_paraphrases_beat_unrelated(embedder: Embedder) -> None:
    pairs = [
        ("a courier delivered a package to the door", "the delivery man dropped off a parcel at the entrance"),
        ("the doorbell is ringing", "someone rang the bell at the front door"),
        ("a red car drives past the house", "a crimson automobile went by the home"),
        ("a dog is barking loudly", "the dog barks"),
    ]
    left = embedder.embed_texts([a for a, _ in pairs])
    right = embedder.embed_texts([b for _, b in pairs])
    sims = left @ right.T
    for i in range(len(pairs)):
        assert sims[i, i] > np.delete(sims[i], i).max() + 0.1, (pairs[i], sims[i])


def test_batching_equals_one_by_one(embedder: Embedder) -> None:
    texts = ["short", "a much longer sentence with many more word pieces than the others in the batch",
             "medium length text here", "PRIORITY MAIL", "x " * 400]  # the last one is truncated
    batch = embedder.embed_texts(texts)
    single = np.stack([embedder.embed_texts([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_rejects_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed_texts("not a list")  # type: ignore[arg-type]


def test_checksum_mismatch_is_an_integrity_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not the weights")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        minilm.verify_sha256(bad, minilm.WEIGHTS_SHA256)
