"""``scenewatch train lora`` and ``train merge`` through the CLI, on a tiny random Qwen2.5-VL saved as a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.helpers import dataset_words, save_tiny, tiny_vl


def test_train_lora_then_merge_from_model_folders(exported: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft", reason="LoRA needs peft: pip install 'scenewatch[train]'")
    import torch
    import transformers
    from typer.testing import CliRunner

    from scenewatch.cli.main import app
    from scenewatch.training.lora import apply_adapter, encode_example, load_examples
    from scenewatch.training.processor import load_processor

    base = save_tiny(*tiny_vl(dataset_words(exported))[:2], tmp_path / "base")
    siglip = tmp_path / "siglip"
    transformers.SiglipVisionModel(transformers.SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=64,
        patch_size=16)).save_pretrained(siglip)
    out, merged = tmp_path / "adapter", tmp_path / "merged"
    runner = CliRunner()
    r = runner.invoke(app, ["train", "lora", "--data", str(exported), "--base", str(base), "--out", str(out),
                            "--max-steps", "8", "--frames", "2", "--lr", "0.01", "--rank", "8",
                            "--eval-fraction", "0.2", "--save-every", "4", "--region-tokens", str(siglip),
                            "--region-steps", "3", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["region_projector"] == str(out / "region_projector.safetensors")
    recorded = json.loads((out / "region_projector.json").read_text())
    assert recorded["encoder"] == str(siglip.resolve()) and recorded["vision_dim"] == 32  # for the reasoner
    assert summary["steps"] == 8 and summary["resumed_from"] == 0 and summary["eval_examples"] > 0
    assert summary["eval_after"] < summary["eval_before"]  # held-out clips improve
    assert (out / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-4", "step-8"]

    r = runner.invoke(app, ["train", "lora", "--data", str(exported), "--base", str(base), "--out", str(out),
                            "--max-steps", "9", "--frames", "2", "--lr", "0.01", "--rank", "8",
                            "--eval-fraction", "0.2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["resumed_from"] == 8  # the same command continues

    r = runner.invoke(app, ["train", "merge", "--base", str(base), "--adapter", str(out), "--out", str(merged)])
    assert r.exit_code == 0, r.output
    processor = load_processor(str(merged))  # saved beside the merged weights, loadable without torchvision
    example = load_examples(exported, 2)[0]
    inputs = encode_example(processor, example, 448 * 448)
    inputs.pop("labels")
    model = transformers.AutoModelForImageTextToText.from_pretrained(merged).eval()
    assert not any("lora" in n for n, _ in model.named_parameters())
    adapted = apply_adapter(transformers.AutoModelForImageTextToText.from_pretrained(base), out).eval()
    plain = transformers.AutoModelForImageTextToText.from_pretrained(base).eval()
    with torch.no_grad():
        got, want, before = (m(**inputs).logits for m in (model, adapted, plain))
    assert torch.allclose(got, want, atol=1e-4)  # merged = base + adapter
    assert not torch.allclose(got, before, atol=1e-3)  # and the adapter changed the model
