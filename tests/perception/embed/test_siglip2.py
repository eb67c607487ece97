"""SigLIP 2 embedder with a tiny random config built here: preprocessing, pooling math, batching."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the SigLIP 2 backend needs torch (pip install 'scenewatch[hf]')")
transformers = pytest.importorskip("transformers", reason="the SigLIP 2 backend needs transformers")

from scenewatch.errors import ScenewatchError  # noqa: E402
from scenewatch.perception.embed.siglip2 import (  # noqa: E402
    SigLIP2Embedder,
    box_weights,
    mask_weights,
    patchify,
    region_projector,
    size_for_max_patches,
)

WORDS = ["[PAD]", "[UNK]", "a", "red", "car", "blue", "door", "package", "at", "the", "photo", "of", "dog"]


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def _model():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = transformers.Siglip2Config(
        text_config={"vocab_size": len(WORDS), "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "max_position_embeddings": 16, "pad_token_id": 0},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "num_patches": 16, "patch_size": 4, "num_channels": 3},
    )
    return transformers.Siglip2Model(config).eval()


@pytest.fixture(scope="module")
def embedder() -> SigLIP2Embedder:
    return SigLIP2Embedder.from_model(_model(), _tokenizer(), name="tiny-siglip2", max_num_patches=16, batch_size=2)


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("hw", [(40, 40), (32, 128), (128, 32), (37, 91), (7, 300)])
def test_preprocessing_matches_transformers_naflex_processor(hw: tuple[int, int]) -> None:
    from transformers.models.siglip2.image_processing_pil_siglip2 import Siglip2ImageProcessorPil

    img = _image(*hw)
    ref = Siglip2ImageProcessorPil(patch_size=4, max_num_patches=16)(images=[img], return_tensors="np")
    patches, mask, grid = patchify(img, 4, 16)
    assert tuple(ref["spatial_shapes"][0]) == grid
    np.testing.assert_array_equal(ref["pixel_attention_mask"][0], mask)
    np.testing.assert_allclose(ref["pixel_values"][0], patches, atol=2 / 255)  # same resize, ±1 grey level


def test_aspect_ratio_is_kept() -> None:
    assert size_for_max_patches(360, 640, 16, 256) == (192, 336)  # 12×21 = 252 patches, 1.75:1 for 16:9
    rows, cols = (v // 16 for v in size_for_max_patches(360, 640, 16, 256))
    assert rows * cols <= 256 and abs(cols / rows - 640 / 360) < 0.15
    assert size_for_max_patches(32, 128, 4, 16) == (8, 32)  # 2×8 patches, 4:1 like the image
    assert size_for_max_patches(10, 1000, 4, 16) == (4, 64)  # at least one patch high


def test_box_and_mask_weights() -> None:
    w = box_weights([0, 0, 10, 10], (40, 40), (4, 4))  # exactly the top-left patch
    assert w[0, 0] == 1 and w.sum() == 1
    w = box_weights([5, 0, 15, 10], (40, 40), (4, 4))  # half of two patches
    np.testing.assert_allclose(w[0, :2], [0.5, 0.5]) and np.testing.assert_allclose(w.sum(), 1.0)
    mask = np.zeros((40, 40), bool)
    mask[:10, :10] = True
    np.testing.assert_allclose(mask_weights(mask, (4, 4)), box_weights([0, 0, 10, 10], (40, 40), (4, 4)), atol=1e-6)


def test_images_are_unit_vectors_batching_is_exact_and_matches_model(embedder: SigLIP2Embedder) -> None:
    images = [_image(40, 40, 1), _image(32, 128, 2), _image(100, 30, 3)]
    batch = embedder.embed_images(images)
    assert batch.shape == (3, 32) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    single = np.stack([embedder.embed_images([im])[0] for im in images])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    from transformers.models.siglip2.image_processing_pil_siglip2 import Siglip2ImageProcessorPil

    inputs = Siglip2ImageProcessorPil(patch_size=4, max_num_patches=16)(images=images[1:2], return_tensors="pt")
    with torch.no_grad():
        ref = embedder.model.get_image_features(**inputs).pooler_output[0].numpy()
    np.testing.assert_allclose(batch[1], ref / np.linalg.norm(ref), atol=2e-2)


def test_texts(embedder: SigLIP2Embedder) -> None:
    texts = ["a red car", "a photo of a dog", "the package at the door"]
    vecs = embedder.embed_texts(texts)
    assert vecs.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs, np.stack([embedder.embed_texts([t])[0] for t in texts]), atol=1e-5)
    np.testing.assert_allclose(embedder.embed_texts(["A RED CAR"]), vecs[:1], atol=1e-6)  # lowercased


def test_whole_image_region_equals_image_embedding(embedder: SigLIP2Embedder) -> None:
    img = _image(48, 80, 4)
    whole = embedder.embed_images([img])[0]
    full_mask = np.ones((1, 48, 80), bool)
    regions = embedder.embed_regions(img, np.array([[0, 0, 80, 48], [0, 0, 40, 24]], np.float32))
    np.testing.assert_allclose(regions[0], whole, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_regions(img, full_mask)[0], whole, atol=1e-5)
    assert float(regions[1] @ whole) < 0.9999  # a quarter of the image is something else


def test_region_attention_pooling_is_weighted_attention(embedder: SigLIP2Embedder) -> None:
    img = _image(32, 32, 5)
    encoded, _, _ = embedder._encode([img])
    hidden = encoded.last_hidden_state[0]
    head = embedder.model.vision_model.head
    weights = embedder.region_weights((32, 32), np.array([[0, 0, 12, 16]], np.float32))
    # reference: the head's math written out for one head group, with softmax(q·k)·w renormalised
    with torch.no_grad():
        probe = head.probe[0]  # 1×D
        attn = head.attention
        q = probe @ attn.in_proj_weight[:32].T + attn.in_proj_bias[:32]
        k = hidden @ attn.in_proj_weight[32:64].T + attn.in_proj_bias[32:64]
        v = hidden @ attn.in_proj_weight[64:].T + attn.in_proj_bias[64:]
        heads, d = 4, 8
        w = torch.from_numpy(weights[0])
        out = []
        for h in range(heads):
            logits = (q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T) / d ** 0.5
            p = torch.softmax(logits, -1) * w
            out.append((p / p.sum()) @ v[:, h * d:(h + 1) * d])
        x = attn.out_proj(torch.cat(out, -1))
        x = x + head.mlp(head.layernorm(x))
    np.testing.assert_allclose(embedder.pool(encoded.last_hidden_state, weights)[0], x[0].numpy(), atol=1e-4)


def test_mean_pooling_with_projector(embedder: SigLIP2Embedder) -> None:
    torch.manual_seed(1)
    projector = region_projector(32, 32)
    mean_emb = SigLIP2Embedder.from_model(embedder.model, embedder.tokenizer, max_num_patches=16, pooling="mean",
                                          projector=projector)
    img = _image(32, 32, 6)
    boxes = np.array([[0, 0, 16, 16], [8, 8, 32, 32]], np.float32)
    got = mean_emb.embed_regions(img, boxes)
    encoded, _, _ = mean_emb._encode([img])
    weights = torch.from_numpy(mean_emb.region_weights((32, 32), boxes))
    with torch.no_grad():
        ref = projector((weights @ encoded.last_hidden_state[0]) / weights.sum(-1, keepdim=True)).numpy()
    np.testing.assert_allclose(got, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(ScenewatchError, match="projector"):
        SigLIP2Embedder.from_model(embedder.model, embedder.tokenizer, pooling="mean")


def test_bad_regions_are_clear_errors(embedder: SigLIP2Embedder) -> None:
    img = _image(32, 32)
    with pytest.raises(ScenewatchError, match="covers no pixels"):
        embedder.embed_regions(img, np.array([[100, 100, 120, 120]], np.float32))
    with pytest.raises(ScenewatchError, match="Rx4 boxes"):
        embedder.embed_regions(img, np.zeros((1, 10, 10), bool))
    with pytest.raises(ScenewatchError, match="uint8"):
        embedder.embed_images([np.zeros((4, 4), np.float32)])  # type: ignore[list-item]
    assert embedder.embed_regions(img, np.zeros((0, 4), np.float32)).shape == (0, 32)
