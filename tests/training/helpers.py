"""A tiny random Qwen2.5-VL and a word-level processor for training tests (no weights downloaded).

The tokenizer's vocabulary covers the words of a given dataset; the processor is the package's
image-only Qwen-VL processor (:mod:`scenewatch.training.processor`), because the video processor needs
torchvision, which does not install beside the CPU torch here. :func:`save_tiny` writes both to a
folder that ``scenewatch train`` loads like a downloaded model.

``initializer_range`` is raised so that a random LM head can express confident predictions; with the
default 0.02 every logit stays near zero and no adapter can lower the loss far below uniform.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>", "<region>"]
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
            "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}"
            "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
            "{% endif %}")
SPLIT = r"<\|[a-z_]+\|>|<region>|\w+|[^\w\s]|\n"
MAX_PIXELS = 112 * 112


def tiny_vl(words: list[str], seed: int = 0, init: float = 0.5) -> tuple[Any, Any, dict[str, int]]:
    """A tiny random Qwen2.5-VL and its processor, with ``words`` in the vocabulary."""
    torch = pytest.importorskip("torch", reason="training needs torch: pip install 'scenewatch[train]'")
    transformers = pytest.importorskip("transformers", reason="training needs transformers")
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    base = ["user", "assistant", "system", "s", ":", ".", "\n", "[UNK]"]
    vocab_words = list(dict.fromkeys([*SPECIALS, *base, *words]))
    vocab = {t: i for i, t in enumerate(vocab_words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                pre_tokenizers.Split(pattern=Regex(SPLIT), behavior="isolated")])
    tok.add_special_tokens(SPECIALS)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>", unk_token="[UNK]")

    from scenewatch.training.processor import image_only_processor

    image_processor = transformers.Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=MAX_PIXELS)
    processor = image_only_processor(image_processor, fast, TEMPLATE)
    ids = {t: vocab[t] for t in SPECIALS}
    torch.manual_seed(seed)
    cfg = transformers.Qwen2_5_VLConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "bos_token_id": ids["<|im_start|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": 0, "initializer_range": init,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 4]}},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "fullatt_block_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    model = transformers.Qwen2_5_VLForConditionalGeneration(cfg)
    return model, processor, vocab


def dataset_words(path: Path) -> list[str]:
    """Every token of every turn in a dataset (so the tiny tokenizer knows them all)."""
    import json

    words: list[str] = []
    for line in path.read_text().splitlines():
        for turn in json.loads(line)["conversations"]:
            words += re.findall(SPLIT, turn["value"])
    return sorted(set(words) | {f"{i}" for i in range(10)})


def save_tiny(model: Any, processor: Any, folder: Path) -> Path:
    """Write the tiny model and its processor (tokenizer, image processor, chat template) as a model folder."""
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
