"""Qwen2.5-VL full tier with a tiny random config and a processor built in the test (no hub).

The processor is assembled from local parts: a word-level tokenizer holding Qwen's special
tokens, the chat template, and the (PIL) Qwen2-VL image processor with a pixel budget, in the
package's image-only processor (:mod:`scenewatch.training.processor`), because the video processor
needs torchvision, which does not install beside the CPU torch here; with torchvision a real
``AutoProcessor`` takes its place.
"""

from __future__ import annotations

import numpy as np
import pytest

from scenewatch.reasoning.reasoners import Message

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>"]
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
            "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}"
            "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
            "{% endif %}")
MAX_PIXELS = 112 * 112


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch", reason="full tier needs torch: pip install 'scenewatch[hf]'")
    transformers = pytest.importorskip("transformers", reason="full tier needs transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["user", "assistant", "system", "describe", ".", "\n", "reply", "json"] + [f"w{i}" for i in range(50)]
    vocab = {t: i for i, t in enumerate([*SPECIALS, *words, "[UNK]"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern=r"<\|[a-z_]+\|>|\w+|[^\w\s]|\n", behavior="isolated")
    tok.add_special_tokens(SPECIALS)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>", unk_token="[UNK]")

    from scenewatch.training.processor import image_only_processor

    image_processor = transformers.Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=MAX_PIXELS)
    processor = image_only_processor(image_processor, fast, TEMPLATE)
    ids = {t: vocab[t] for t in SPECIALS}
    torch.manual_seed(0)
    cfg = transformers.Qwen2_5_VLConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "bos_token_id": ids["<|im_start|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": 0,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 4]}},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "fullatt_block_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    model = transformers.Qwen2_5_VLForConditionalGeneration(cfg)
    from scenewatch.reasoning.reasoners.qwen_vl import QwenVLReasoner

    return QwenVLReasoner(model=model, processor=processor), ids


def test_frame_keeps_aspect_ratio_within_the_pixel_budget(tiny) -> None:  # type: ignore[no-untyped-def]
    reasoner, ids = tiny
    frame = np.zeros((360, 640, 3), np.uint8)
    inputs = reasoner._inputs([Message("user", "Describe.")], None, [frame])
    t, h, w = inputs["image_grid_thw"][0].tolist()
    assert t == 1 and h * w * 14 * 14 <= MAX_PIXELS
    assert (h / w) == pytest.approx(360 / 640, rel=0.15)  # dynamic resolution, not a square resize
    n_pad = int((inputs["input_ids"][0] == ids["<|image_pad|>"]).sum())
    assert n_pad == h * w // 4  # 2x2 patch merge: one token per merged patch
    assert inputs["pixel_values"].shape[0] == h * w


def test_generates_text_with_a_frame(tiny) -> None:  # type: ignore[no-untyped-def]
    reasoner, _ = tiny
    out = reasoner.complete([Message("user", "Describe.")], max_tokens=4, images=[np.zeros((56, 84, 3), np.uint8)])
    assert isinstance(out, str)
    text_only = reasoner.complete([Message("user", "Describe.")], max_tokens=2)
    assert isinstance(text_only, str)


def test_a_saved_processor_loads_back_without_torchvision(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch

    from scenewatch.training.processor import load_processor

    reasoner, _ = tiny
    reasoner.processor.save_pretrained(tmp_path)
    loaded = load_processor(str(tmp_path), min_pixels=28 * 28, max_pixels=MAX_PIXELS)
    frame = (np.arange(360 * 640 * 3) % 251).astype(np.uint8).reshape(360, 640, 3)
    want = reasoner._inputs([Message("user", "Describe.")], None, [frame])
    reasoner.processor, original = loaded, reasoner.processor
    try:
        got = reasoner._inputs([Message("user", "Describe.")], None, [frame])
    finally:
        reasoner.processor = original
    assert got["input_ids"].tolist() == want["input_ids"].tolist()
    assert torch.equal(got["image_grid_thw"], want["image_grid_thw"])
    assert torch.allclose(got["pixel_values"], want["pixel_values"])
