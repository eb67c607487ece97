"""``scenewatch plan``: what a set of models needs in GPU (or CPU) memory, and what to change if it does not fit."""

from __future__ import annotations

import typer
from rich.table import Table

from scenewatch.cli.common import JsonOption, console, print_json


def plan_command(
    gpu: str = typer.Option("24GB", "--gpu", help="Device memory (24GB, 48GB, …) or cpu."),
    models: list[str] | None = typer.Option(None, "--models", help="name@precision, comma-separated or repeated "
                                            "(e.g. qwen2.5-vl-7b@nf4,sam3@bf16); a config.json path works too."),
    context: int | None = typer.Option(None, "--context", help="Language-model context in tokens."),
    mode: str = typer.Option("inference", "--mode", help="inference, lora or qlora (training memory)."),
    as_json: bool = JsonOption,
) -> None:
    """Plan memory per component (weights, KV cache, activations) against the device."""
    from scenewatch.runtime import training_service

    plan = training_service.plan(gpu, models, context, mode)
    if as_json:
        print_json(plan.to_dict())
        return
    table = Table(title=f"{plan.device} {plan.memory_gb:.0f} GB, context {plan.context}, {plan.mode}")
    for col in ("model", "precision", "params (B)", "weights GB", "KV GB", "activations GB", "total GB"):
        table.add_column(col, justify="left" if col in ("model", "precision") else "right", no_wrap=True)
    for c in plan.components:
        table.add_row(c.name, c.precision, f"{c.params_b:.2f}", f"{c.weights_gb:.2f}", f"{c.kv_gb:.2f}",
                      f"{c.activations_gb:.2f}", f"{c.total_gb:.2f}")
    table.add_row("runtime", "", "", "", "", "", f"{plan.runtime_gb:.2f}")
    table.add_row("[bold]total[/]", "", "", "", "", "", f"[bold]{plan.total_gb:.2f}[/]")
    console.print(table)
    verdict = "[green]fits[/]" if plan.fits else "[red]does not fit[/]"
    console.print(f"{plan.total_gb:.1f} GB of {plan.memory_gb:.0f} GB: {verdict}", highlight=False)
    for s in plan.suggestions:
        console.print(f"  try: {s}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``plan`` to the app."""
    app.command("plan")(plan_command)
