"""LoRA on a tiny random Qwen2.5-VL (built in the test) over the dataset exported from the watched scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.training.helpers import dataset_words, tiny_vl

STEPS = 16


def _settings(exported: Path, out: Path, **extra: Any) -> Any:
    from scenewatch.training.lora import TrainSettings

    values = {"data": exported, "base": "unused", "out": out, "rank": 8, "alpha": 16, "lr": 1e-2,
              "max_steps": STEPS, "frames": 2, "max_pixels": 112 * 112, "eval_fraction": 0.2, "eval_every": 6,
              "save_every": 6, "resume": False, **extra}
    return TrainSettings(**values)


@pytest.fixture(scope="module")
def trained(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, list[str]]:
    pytest.importorskip("peft", reason="LoRA needs peft: pip install 'scenewatch[train]'")
    from scenewatch.runtime import training_service

    words = dataset_words(exported)
    model, processor, _ = tiny_vl(words)
    out = tmp_path_factory.mktemp("lora") / "adapter"
    seen: list[int] = []
    result = training_service.train_lora(_settings(exported, out), on_progress=lambda p: seen.append(p.step),
                                         model=model, processor=processor)
    assert seen == list(range(1, STEPS + 1))
    return result, processor, words


def _logits(model: Any, processor: Any, exported: Path) -> Any:
    import torch

    from scenewatch.training.lora import encode_example, load_examples

    example = load_examples(exported, 2)[0]
    inputs = encode_example(processor, example, 112 * 112)
    inputs.pop("labels")
    model.eval()
    with torch.no_grad():
        return model(**inputs).logits


def test_a_few_lora_steps_lower_the_loss(trained: tuple[Any, Any, list[str]], exported: Path) -> None:
    from scenewatch.training.lora import _Encoded, evaluate, load_examples, split_examples

    result, processor, words = trained
    assert result.steps == STEPS and result.train_examples > 0 and result.eval_examples > 0
    train_set, _ = split_examples(load_examples(exported, 2), 0.2, 0)
    encoded = _Encoded(processor, 112 * 112)
    before = evaluate(tiny_vl(words)[0], encoded, train_set[:8])  # the same seeded random base
    after = evaluate(result.model, encoded, train_set[:8])
    assert before is not None and after is not None and after < 0.75 * before
    assert result.eval_after < result.eval_before  # held-out clips improve too
    trainable = [n for n, p in result.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)  # vision tower frozen
    assert not any("visual" in n for n, _ in result.model.named_parameters() if "lora_" in n)
    assert (result.out / "adapter_model.safetensors").is_file() and (result.out / "train_result.json").is_file()


def test_adapter_reloads_merges_and_serves_the_reasoner(trained: tuple[Any, Any, list[str]], exported: Path,
                                                        tmp_path: Path) -> None:
    import torch
    import transformers

    from scenewatch.reasoning.reasoners.qwen_vl import QwenVLReasoner
    from scenewatch.reasoning.settings import ReasonerSettings
    from scenewatch.training.lora import apply_adapter, merge

    result, processor, words = trained
    expected = _logits(result.model, processor, exported)
    base, _, _ = tiny_vl(words)  # same seed: the same random base
    assert not torch.allclose(_logits(base, processor, exported), expected, atol=1e-3)  # training changed outputs
    reloaded = apply_adapter(tiny_vl(words)[0], result.out)
    assert torch.allclose(_logits(reloaded, processor, exported), expected, atol=1e-5)
    merged_dir = merge("unused", result.out, tmp_path / "merged", model=tiny_vl(words)[0], processor=processor)
    merged = transformers.Qwen2_5_VLForConditionalGeneration.from_pretrained(merged_dir)  # a local folder
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert torch.allclose(_logits(merged, processor, exported), expected, atol=1e-4)
    settings = ReasonerSettings(backend="qwen-vl", model="unused", adapter=str(result.out))
    reasoner = QwenVLReasoner(settings, model=tiny_vl(words)[0], processor=processor)
    assert torch.allclose(_logits(reasoner.model, processor, exported), expected, atol=1e-5)


def test_training_resumes_from_the_newest_checkpoint(trained: tuple[Any, Any, list[str]], exported: Path) -> None:
    from scenewatch.training.lora import train

    result, processor, words = trained
    assert sorted(p.name for p in (result.out / "checkpoints").iterdir()) == ["step-12", "step-16", "step-6"]
    more = train(_settings(exported, result.out, max_steps=STEPS + 3, resume=True), model=tiny_vl(words)[0],
                 processor=processor)
    assert more.resumed_from == STEPS and more.steps == STEPS + 3
    assert more.losses[:STEPS] == pytest.approx(result.losses)


def test_qlora_without_cuda_is_a_clear_error(exported: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: QLoRA can run here")
    from scenewatch.training.lora import TrainingError, train

    with pytest.raises(TrainingError, match="needs a CUDA GPU"):
        train(_settings(exported, tmp_path / "q", qlora=True))


def test_unsloth_loads_and_wraps_only_when_installed_with_cuda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                                               ) -> None:
    import importlib.machinery
    import importlib.util
    import sys
    import types

    torch = pytest.importorskip("torch")
    from scenewatch.training import lora

    if importlib.util.find_spec("unsloth") is None or not torch.cuda.is_available():
        assert lora.unsloth_loader() is None  # the plain transformers + peft path

    calls: list[tuple[str, Any, dict[str, Any]]] = []

    class FastVisionModel:  # stands in for unsloth's; the real package is never imported here
        @staticmethod
        def from_pretrained(base: str, **kwargs: Any) -> tuple[str, str]:
            calls.append(("load", base, kwargs))
            return "fast-model", "fast-processor"

        @staticmethod
        def get_peft_model(model: Any, **kwargs: Any) -> str:
            calls.append(("peft", model, kwargs))
            return "fast-peft"

    fake = types.ModuleType("unsloth")
    fake.__spec__ = importlib.machinery.ModuleSpec("unsloth", None)
    fake.FastVisionModel = FastVisionModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "unsloth", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert lora.unsloth_loader() is None  # installed, but Unsloth needs CUDA
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    fast = lora.unsloth_loader()
    assert fast is FastVisionModel
    assert lora.load_base("some/base", qlora=False, fast=fast) == ("fast-model", "fast-processor")
    settings = _settings(tmp_path / "data.jsonl", tmp_path / "out")
    assert lora.wrap_lora("fast-model", settings, fast) == "fast-peft"
    (_, base, load_kwargs), (_, wrapped, peft_kwargs) = calls
    assert base == "some/base" and load_kwargs["load_in_4bit"] is False and wrapped == "fast-model"
    assert peft_kwargs["r"] == 8 and peft_kwargs["lora_alpha"] == 16 and peft_kwargs["finetune_language_layers"]
    assert peft_kwargs["finetune_vision_layers"] is False  # the vision tower stays frozen by default
