"""The Qwen2-Audio backend, wired with a tiny random Qwen2AudioConfig and a locally built processor (no hub)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.perception.asr import TRANSCRIBERS
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AudioChunk

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
WORDS = ["[UNK]", "system", "user", "assistant", "You", "are", "a", "helpful", "assistant.", "Audio", "1:", "2:",
         "Transcribe", "the", "speech", "in", "this", "audio", "verbatim.", "What", "can", "you", "hear?",
         "dog", "barks", "door", "bell"]
# Qwen2-Audio's chat template, as shipped with the Instruct checkpoint.
CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' %}{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tone(seconds: float, start: float) -> AudioChunk:
    t = np.arange(int(seconds * 16000)) / 16000
    return AudioChunk((0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), start, "s")


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    """A tiny random Qwen2-Audio (1-layer encoder and decoder, width 16) and its processor."""
    torch = pytest.importorskip("torch", reason="full tier: torch is not installed")
    transformers = pytest.importorskip("transformers", reason="full tier: transformers is not installed")
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(SPECIALS)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>",
    )
    processor = transformers.Qwen2AudioProcessor(
        transformers.WhisperFeatureExtractor(feature_size=128), tokenizer, chat_template=CHAT_TEMPLATE,
    )
    torch.manual_seed(0)
    config = transformers.Qwen2AudioConfig(
        audio_config={"model_type": "qwen2_audio_encoder", "d_model": 16, "encoder_layers": 1,
                      "encoder_attention_heads": 2, "encoder_ffn_dim": 32, "num_mel_bins": 128,
                      "max_source_positions": 1500},
        text_config={"model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 16,
                     "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 1, "max_position_embeddings": 4096},
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    model = transformers.Qwen2AudioForConditionalGeneration(config)
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    # Random weights would often say only special tokens (decoded to ""); make them say words.
    gen.suppress_tokens = tokenizer.convert_tokens_to_ids([*SPECIALS, "[UNK]"])
    return model, processor


def backend(tiny: tuple[Any, Any]) -> Any:
    from scenewatch.perception.asr.qwen2_audio import Qwen2AudioTranscriber

    model, processor = tiny
    return Qwen2AudioTranscriber(AsrSettings(backend="qwen2-audio", model="tiny-random"),
                                 model=model, processor=processor, max_new_tokens=3)


def test_registered_and_default_checkpoint() -> None:
    from scenewatch.perception.asr.qwen2_audio import DEFAULT_MODEL, model_id

    assert "qwen2-audio" in TRANSCRIBERS
    assert model_id(AsrSettings(backend="qwen2-audio")) == DEFAULT_MODEL == "Qwen/Qwen2-Audio-7B-Instruct"
    assert model_id(AsrSettings(backend="qwen2-audio", model="openai/whisper-large-v3")) == DEFAULT_MODEL
    assert model_id(AsrSettings(backend="qwen2-audio", model="/models/qwen2-audio")) == "/models/qwen2-audio"


def test_missing_dependency_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from scenewatch.perception.asr.qwen2_audio import Qwen2AudioTranscriber

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers → ImportError
    with pytest.raises(BackendUnavailable, match=r"pip install 'scenewatch\[hf\]'"):
        Qwen2AudioTranscriber(AsrSettings(backend="qwen2-audio"))


def test_features_and_audio_placeholders_for_a_5s_clip(tiny: tuple[Any, Any]) -> None:
    model, processor = tiny
    content = [{"type": "audio", "audio_url": "x"}, {"type": "text", "text": "What can you hear?"}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                           tokenize=False)
    inputs = processor(text=prompt, audio=[tone(5.0, 0.0).samples], sampling_rate=16000, return_tensors="pt")
    # Always padded to the encoder's fixed 30 s (3000 frames) of 128 mel bins; the mask marks the 5 s.
    assert tuple(inputs["input_features"].shape) == (1, 128, 3000)
    assert int(inputs["feature_attention_mask"].sum()) == 500
    placeholders = int((inputs["input_ids"] == model.config.audio_token_id).sum())
    _, expected = model.model.audio_tower._get_feat_extract_output_lengths(inputs["feature_attention_mask"].sum(-1))
    assert placeholders == int(expected[0]) == 125  # 25 audio tokens per second
    out = model(**inputs)  # the model accepts exactly that many placeholders
    assert out.logits.shape[1] == inputs["input_ids"].shape[1]


def test_transcribe_segments_lie_on_the_global_timeline(tiny: tuple[Any, Any]) -> None:
    segments = list(backend(tiny).transcribe(tone(35.0, 100.0)))
    assert [(s.start, s.end) for s in segments] == [(100.0, 130.0), (130.0, 135.0)]
    for s in segments:  # random weights say random words, but at the right times
        assert s.text and s.words == ()
    assert list(backend(tiny).transcribe(tone(0.05, 7.0))) == []


def test_describe_returns_text_and_rejects_empty_input(tiny: tuple[Any, Any]) -> None:
    b = backend(tiny)
    answer = b.describe(tone(5.0, 3.0))
    assert isinstance(answer, str) and len(answer.split()) == 3  # 3 new tokens, all words
    assert isinstance(b.describe(tone(40.0, 0.0), "Is there a dog?"), str)  # two 30 s parts in one turn
    with pytest.raises(ScenewatchError, match=r"at least 0\.1 s"):
        b.describe(tone(0.0, 0.0))
    with pytest.raises(ScenewatchError, match="needs a question"):
        b.describe(tone(1.0, 0.0), " ")
