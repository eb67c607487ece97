"""The VRAM planner against published figures (parameter counts, measured GPU memory, trainer tables)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenewatch.errors import ConfigError
from scenewatch.training.vram import ARCHS, PlanRequest, make_plan, param_count, register_config


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_parameter_counts_from_configs_match_the_published_counts(name: str) -> None:
    assert param_count(name) == pytest.approx(ARCHS[name]["published_params"], rel=0.04)


def test_the_24gb_profile_reproduces_the_seed_budget() -> None:
    plan = make_plan(PlanRequest.from_cli(gpu="24GB"))
    assert plan.total_gb == pytest.approx(17.0, rel=0.15)  # the seed: ~17 GB of a 24 GB card
    assert plan.fits and not plan.suggestions
    qwen = plan.components[0]
    assert qwen.name == "qwen2.5-vl-7b" and qwen.precision == "nf4"
    # KV cache: 28 layers x 4 KV heads x 128 x 8192 tokens x 2 (K, V) x 2 bytes
    assert qwen.kv_gb == pytest.approx(28 * 4 * 128 * 8192 * 2 * 2 / 1e9)


def test_qwen_bf16_weights_match_the_published_checkpoint_size() -> None:
    plan = make_plan(PlanRequest.from_cli(gpu="48GB", models=["qwen2.5-vl-7b@bf16"]))
    assert plan.components[0].weights_gb == pytest.approx(16.58, rel=0.01)  # 8.29 B params x 2 bytes


@pytest.mark.parametrize(("precision", "published_mb"), [("int8", 2926), ("fp16", 4525)])
def test_whisper_large_matches_faster_whisper_measured_memory(precision: str, published_mb: int) -> None:
    # faster-whisper README benchmark: large-v2 on GPU, beam 5, max GPU memory (large-v3 has the same size)
    plan = make_plan(PlanRequest.from_cli(gpu="24GB", models=[f"whisper-large-v3@{precision}"]))
    assert plan.total_gb * 1000 == pytest.approx(published_mb, rel=0.15)


@pytest.mark.parametrize(("mode", "published_gb"), [("lora", 16), ("qlora", 6)])
def test_training_memory_matches_llama_factory_table(mode: str, published_gb: int) -> None:
    # LLaMA-Factory README "Hardware Requirement": 7B, LoRA 16-bit 16 GB, QLoRA 4-bit 6 GB
    plan = make_plan(PlanRequest.from_cli(gpu="24GB", models=["llama-7b"], mode=mode))
    assert plan.total_gb == pytest.approx(published_gb, rel=0.15)


def test_an_over_budget_plan_says_what_to_change() -> None:
    plan = make_plan(PlanRequest.from_cli(gpu="12GB"))
    assert not plan.fits and plan.total_gb > 12
    assert any(s.startswith("use qwen2.5-vl-3b instead of 7b") and s.endswith("(fits)") for s in plan.suggestions)
    assert any("whisper-large-v3 on the CPU" in s for s in plan.suggestions)
    bf16 = make_plan(PlanRequest.from_cli(gpu="16GB", models=["qwen2.5-vl-7b@bf16"]))
    assert any(s.startswith("load qwen2.5-vl-7b in 4-bit") and s.endswith("(fits)") for s in bf16.suggestions)


def test_cpu_profile_and_a_local_config(tmp_path: Path) -> None:
    cpu = make_plan(PlanRequest.from_cli(gpu="cpu"))
    assert cpu.device == "cpu" and cpu.fits and cpu.total_gb < 4
    cfg = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 1000, "tie_word_embeddings": True}
    folder = tmp_path / "tiny-lm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    assert register_config(folder) == "tiny-lm"
    plan = make_plan(PlanRequest.from_cli(gpu="24GB", models=[f"{folder}@fp32"], context=100))
    per_layer = 2 * 64 * 64 + 2 * 64 * 32 + (64 + 2 * 32) + 3 * 64 * 128 + 2 * 64
    assert plan.components[0].params_b * 1e9 == 2 * per_layer + 1000 * 64 + 64
    with pytest.raises(ConfigError, match="unknown model"):
        PlanRequest.from_cli(models=["gpt-9"])
    with pytest.raises(ConfigError, match="--gpu"):
        PlanRequest.from_cli(gpu="lots")


def test_cli_plan_json() -> None:
    from typer.testing import CliRunner

    from scenewatch.cli.main import app

    r = CliRunner().invoke(app, ["plan", "--gpu", "24GB", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["fits"] and len(data["components"]) == 4
    assert data["total_gb"] == pytest.approx(sum(c["total_gb"] for c in data["components"]) + data["runtime_gb"],
                                             abs=0.01)
