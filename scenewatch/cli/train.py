"""``scenewatch train lora|merge``: fine-tune a vision-language model on an exported dataset, fold the adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scenewatch.cli.common import JsonOption, console, print_json

train_app = typer.Typer(help="Fine-tune with LoRA / QLoRA and merge adapters.", no_args_is_help=True)


@train_app.command("lora")
def lora_command(
    data: Path = typer.Option(..., "--data", help="Exported dataset (JSONL, `scenewatch export`)."),
    base: str = typer.Option(..., "--base", help="Base model directory (transformers format, e.g. Qwen2.5-VL)."),
    out: Path = typer.Option(Path("adapter"), "--out", "-o", help="Adapter output folder."),
    qlora: bool = typer.Option(False, "--qlora", help="4-bit NF4 base (bitsandbytes; needs a CUDA GPU)."),
    rank: int | None = typer.Option(None, "--rank", help="LoRA rank (16)."),
    alpha: int | None = typer.Option(None, "--alpha", help="LoRA alpha (32)."),
    target: str | None = typer.Option(None, "--target", help="language (default) or all."),
    epochs: float | None = typer.Option(None, "--epochs", help="Passes over the training split (1)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many steps."),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (2e-4)."),
    grad_accum: int | None = typer.Option(None, "--grad-accum", help="Records per optimizer step (1)."),
    eval_fraction: float | None = typer.Option(None, "--eval-fraction", help="Share of clips held out (0.1)."),
    frames: int | None = typer.Option(None, "--frames", help="Frames sampled per clip (4)."),
    save_every: int | None = typer.Option(None, "--save-every", help="Checkpoint every N steps (50)."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore checkpoints in --out and start over."),
    unsloth: bool = typer.Option(True, "--unsloth/--no-unsloth", help="Load with Unsloth when it is installed "
                                 "and a CUDA GPU is present (otherwise transformers + peft)."),
    region_tokens: Path | None = typer.Option(None, "--region-tokens", help="Also train a region-token projector "
                                              "with this SigLIP vision model directory."),
    region_steps: int = typer.Option(200, "--region-steps", help="Steps for the region projector."),
    as_json: bool = JsonOption,
) -> None:
    """Train a LoRA adapter (resumes from the newest checkpoint in --out)."""
    from scenewatch.runtime import training_service

    settings = training_service.train_settings(
        data=data, base=base, out=out, qlora=qlora, rank=rank, alpha=alpha, target=target, epochs=epochs,
        max_steps=max_steps, lr=lr, grad_accum=grad_accum, eval_fraction=eval_fraction, frames=frames,
        save_every=save_every, resume=not fresh, unsloth=unsloth)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
        task: dict[str, Any] = {}

        def on_progress(p: Any) -> None:
            if "id" not in task:
                task["id"] = bar.add_task("lora", total=p.total, status="")
            status = f"loss {p.loss:.4f}" + (f"  eval {p.eval_loss:.4f}" if p.eval_loss is not None else "")
            bar.update(task["id"], completed=p.step, status=status)

        result = training_service.train_lora(settings, on_progress=on_progress)
        regions = None
        if region_tokens is not None:
            regions = training_service.train_region_tokens(result, data, region_tokens, steps=region_steps)
    summary = {"out": str(result.out), "steps": result.steps, "resumed_from": result.resumed_from,
               "train_examples": result.train_examples, "eval_examples": result.eval_examples,
               "first_loss": result.first_loss, "last_loss": result.last_loss,
               "eval_before": result.eval_before, "eval_after": result.eval_after,
               "region_projector": str(regions) if regions else None}
    if as_json:
        print_json(summary)
        return
    line = (f"adapter → {result.out}: {result.steps} steps, loss {result.first_loss:.3f} → {result.last_loss:.3f}")
    if result.eval_before is not None and result.eval_after is not None:
        line += f", eval {result.eval_before:.3f} → {result.eval_after:.3f}"
    console.print(line, highlight=False)
    if regions:
        console.print(f"region projector → {regions}", highlight=False)


@train_app.command("merge")
def merge_command(
    base: str = typer.Option(..., "--base", help="Base model directory."),
    adapter: Path = typer.Option(..., "--adapter", help="Adapter folder from `train lora`."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the merged model."),
) -> None:
    """Fold a LoRA adapter into the base weights (a plain model any loader can use)."""
    from scenewatch.runtime import training_service

    path = training_service.merge_adapter(base, adapter, out)
    console.print(f"merged model → {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``train`` to the app."""
    app.add_typer(train_app, name="train")
