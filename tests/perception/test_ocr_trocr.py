"""TrOCR fallback recogniser (full tier): a tiny random VisionEncoderDecoderModel built here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="full tier: torch not installed (pip install 'scenewatch[trocr]')")
transformers = pytest.importorskip("transformers", reason="full tier: transformers not installed")

sys.path.insert(0, str(Path(__file__).parent))
from ocr_helpers import draw_text  # noqa: E402

from scenewatch.perception.ocr.settings import OcrSettings  # noqa: E402
from scenewatch.perception.ocr.trocr import TrOcrFallbackReader, TrOcrRecogniser  # noqa: E402

VOCAB = ["<s>", "<pad>", "</s>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "]


def tiny_recogniser() -> TrOcrRecogniser:
    from transformers import TrOCRConfig, TrOCRForCausalLM, VisionEncoderDecoderModel, ViTConfig, ViTModel

    torch.manual_seed(0)
    encoder = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=64), add_pooling_layer=False)
    decoder = TrOCRForCausalLM(TrOCRConfig(vocab_size=len(VOCAB), d_model=32, decoder_layers=1,
                                           decoder_attention_heads=2, decoder_ffn_dim=64, max_position_embeddings=64,
                                           pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                           decoder_start_token_id=2, cross_attention_hidden_size=32))
    model = VisionEncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id, model.config.pad_token_id, model.config.eos_token_id = 2, 1, 2
    model.generation_config.decoder_start_token_id = 2
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = 1, 2
    return TrOcrRecogniser(model, lambda ids: "".join(VOCAB[i] for i in ids if i > 2), image_size=32)


def test_tiny_trocr_shapes_and_outputs() -> None:
    rec = tiny_recogniser()
    crops = [np.full((20, 80, 3), 255, np.uint8), np.zeros((30, 40, 3), np.uint8)]
    assert tuple(rec.preprocess(crops).shape) == (2, 3, 32, 32)
    out = rec.recognise(crops)
    assert len(out) == 2
    for text, score in out:
        assert isinstance(text, str) and set(text) <= set("".join(VOCAB[3:]))
        assert 0.0 <= score <= 1.0
    assert rec.recognise([]) == []


def test_fallback_only_rereads_low_confidence_lines() -> None:
    class Fixed(TrOcrRecogniser):
        def __init__(self) -> None:
            self.calls: list[int] = []

        def recognise(self, crops):  # type: ignore[no-untyped-def]
            self.calls.append(len(crops))
            return [("FROM TROCR", 0.97)] * len(crops)

    fake = Fixed()
    reader = TrOcrFallbackReader(OcrSettings(fallback_below=0.8), recogniser=fake)
    crops = [np.zeros((10, 10, 3), np.uint8)] * 3
    out = reader._refine(crops, [("GOOD", 0.99), ("BAD", 0.5), ("WORSE", 0.99)])
    assert out == [("GOOD", 0.99), ("FROM TROCR", 0.97), ("WORSE", 0.99)] and fake.calls == [1]


def test_fallback_reader_end_to_end_with_tiny_model() -> None:
    reader = TrOcrFallbackReader(OcrSettings(fallback_below=1.0, min_score=0.0), recogniser=tiny_recogniser())
    img = np.asarray(draw_text([("HELLO 42", (10, 10))], (220, 60)))
    got = reader.read(img)
    assert len(got) == 1 and 0.0 <= got[0].score <= 1.0  # rapidocr found the line; a reading is kept


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    from scenewatch.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match=r"TrOCR weights .* are not on this machine"):
        TrOcrRecogniser.from_pretrained(str(tmp_path / "no-model"))
