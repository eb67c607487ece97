"""SAM 3 full-tier backend, wired to a tiny random Sam3Model built here (no weights downloaded).

Checks pre/post-processing shapes, presence gating, mask → box and batching several concepts
in one pass (same result as one prompt at a time). Skipped without torch/transformers.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="full tier: pip install 'scenewatch[hf]'")
transformers = pytest.importorskip("transformers", reason="full tier: pip install 'scenewatch[hf]'")
if not hasattr(transformers, "Sam3Model"):
    pytest.skip("transformers has no Sam3Model (needs transformers>=5)", allow_module_level=True)

from scenewatch.errors import ScenewatchError  # noqa: E402
from scenewatch.perception.detect import DETECTORS, Detector  # noqa: E402
from scenewatch.perception.detect.boxes import mask_to_box  # noqa: E402
from scenewatch.perception.detect.sam3 import Sam3Detector  # noqa: E402
from scenewatch.perception.detect.settings import DetectSettings  # noqa: E402
from scenewatch.types import Frame  # noqa: E402

WORDS = ["person", "car", "dog", "red", "package", "door", "a", "the"]


def tiny_model() -> object:
    from transformers.models.sam3 import configuration_sam3 as c

    backbone = c.Sam3ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                               image_size=224, patch_size=14, window_size=8, global_attn_indexes=[0, 1])
    config = c.Sam3Config(
        vision_config=c.Sam3VisionConfig(backbone_config=backbone, fpn_hidden_size=32, scale_factors=[2.0, 1.0]),
        text_config={"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "projection_dim": 32,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 32,
                     "hidden_act": "gelu"},
        geometry_encoder_config=c.Sam3GeometryEncoderConfig(hidden_size=32, num_layers=1, num_attention_heads=4,
                                                            intermediate_size=64),
        detr_encoder_config=c.Sam3DETREncoderConfig(hidden_size=32, num_layers=1, num_attention_heads=4,
                                                    intermediate_size=64),
        detr_decoder_config=c.Sam3DETRDecoderConfig(hidden_size=32, num_layers=1, num_queries=5,
                                                    num_attention_heads=4, intermediate_size=64),
        mask_decoder_config=c.Sam3MaskDecoderConfig(hidden_size=32, num_upsampling_stages=2),
    )
    torch.manual_seed(0)
    return transformers.Sam3Model(config).eval()


def tiny_tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


@pytest.fixture(scope="module")
def parts() -> tuple[object, object]:
    return tiny_model(), tiny_tokenizer()


def make(parts: tuple[object, object], **kw: object) -> Sam3Detector:
    model, tok = parts
    settings = DetectSettings(score_threshold=float(kw.pop("score", 0.01)))  # type: ignore[arg-type]
    return Sam3Detector(settings, model=model, tokenizer=tok, device="cpu", **kw)  # type: ignore[arg-type]


def frame(h: int = 90, w: int = 160) -> Frame:
    return Frame(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8), 1.0, "s")


def test_registered_open_vocabulary(parts: tuple[object, object]) -> None:
    det = make(parts)
    assert DETECTORS.get("sam3") is Sam3Detector and isinstance(det, Detector) and det.vocabulary is None


def test_preprocess_shape_and_range(parts: tuple[object, object]) -> None:
    det = make(parts)
    x = det.preprocess(np.full((90, 160, 3), 255, np.uint8))
    assert tuple(x.shape) == (1, 3, 224, 224) and float(x.max()) == pytest.approx(1.0)


def test_masks_boxes_and_labels(parts: tuple[object, object]) -> None:
    det = make(parts, presence_threshold=0.0)
    dets = det.detect(frame(), ["person", "red car"])
    n = len(dets)
    assert n > 0 and dets.masks is not None and dets.masks.shape == (n, 90, 160)
    assert set(dets.labels) <= {"person", "red car"} and dets.concepts == dets.labels
    assert ((dets.scores > 0.01) & (dets.scores <= 1)).all()
    for box, mask in zip(dets.xyxy, dets.masks, strict=True):
        assert (box[[0, 2]] <= 160).all() and (box[[1, 3]] <= 90).all() and box[2] > box[0]
        if mask.any():
            assert np.array_equal(box, mask_to_box(mask))  # the box is the mask's tight box


def test_presence_gate_removes_absent_concepts(parts: tuple[object, object]) -> None:
    assert len(make(parts, presence_threshold=1.01).detect(frame(), ["person", "dog"])) == 0
    assert len(make(parts, presence_threshold=0.0).detect(frame(), ["person", "dog"])) > 0


def test_batched_prompts_match_one_at_a_time(parts: tuple[object, object]) -> None:
    prompts = ["person", "dog", "red car"]
    batched = make(parts, presence_threshold=0.0, prompts_per_pass=8).detect(frame(), prompts)
    single = make(parts, presence_threshold=0.0, prompts_per_pass=1).detect(frame(), prompts)
    assert batched.labels == single.labels
    np.testing.assert_allclose(batched.scores, single.scores, atol=1e-4)
    np.testing.assert_allclose(batched.xyxy, single.xyxy, atol=1e-2)


def test_bad_prompts(parts: tuple[object, object]) -> None:
    det = make(parts)
    with pytest.raises(ScenewatchError, match="no concepts"):
        det.detect(frame(), [" "])
    gray_odd = Frame(np.repeat(np.zeros((7, 3, 1), np.uint8), 3, axis=2), 0.0, "s")
    assert det.detect(gray_odd, ["person"]).xyxy.shape[1] == 4
