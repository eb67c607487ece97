"""Qwen2.5-VL full tier with a tiny random config (skipped without torch/transformers)."""

from __future__ import annotations

import numpy as np
import pytest

from scenewatch.reasoning.reasoners import Message


def test_tiny_random_qwen_vl_generates_with_a_frame() -> None:
    torch = pytest.importorskip("torch", reason="full tier needs torch: pip install 'scenewatch[hf]'")
    transformers = pytest.importorskip("transformers", reason="full tier needs transformers")
    from scenewatch.reasoning.reasoners.qwen_vl import QwenVLReasoner

    torch.manual_seed(0)
    cfg = transformers.Qwen2_5_VLConfig(
        text_config={"vocab_size": 151_700, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "num_key_value_heads": 1,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 4]}},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "fullatt_block_indexes": [0]},
    )
    model = transformers.Qwen2_5_VLForConditionalGeneration(cfg)
    pytest.skip("a processor needs a tokenizer from the hub; wiring is covered when one is cached") \
        if not hasattr(transformers, "AutoProcessor") else None
    try:
        processor = transformers.AutoProcessor.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct", local_files_only=True)
    except OSError:
        pytest.skip("no Qwen2.5-VL processor files cached locally (the model itself is random)")
    reasoner = QwenVLReasoner(model=model, processor=processor)
    out = reasoner.complete([Message("user", "Describe.")], max_tokens=4, images=[np.zeros((56, 84, 3), np.uint8)])
    assert isinstance(out, str)
