"""``scenewatch export``: the timeline and its reviews as an instruction-tuning dataset (JSONL + clips)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.errors import ConfigError

FORMATS = ("sharegpt", "llava", "qwen-vl")


def export_command(
    out: Path = typer.Option(..., "--out", "-o", help="Dataset file to write (JSONL); clips go beside it."),
    fmt: str = typer.Option("sharegpt", "--format", help="sharegpt (LLaMA-Factory) | llava | qwen-vl"),
    reviewed_only: bool = typer.Option(False, "--reviewed-only", help="Only what a person confirmed or corrected."),
    since: str | None = typer.Option(None, "--since", help="Only rows stored since (ISO time, 3d, 12h)."),
    seed: int = typer.Option(0, "--seed", help="Seed for question phrasing."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Export one record per clip and question, clips cut to each span."""
    from scenewatch.runtime import training_service

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    cfg = build_config(config, db)
    summary = training_service.export(cfg, out, fmt, reviewed_only, since, seed)  # type: ignore[arg-type]
    if as_json:
        data = asdict(summary)
        data["out"] = str(summary.out)
        print_json(data)
        return
    kinds = ", ".join(f"{k} {v}" for k, v in summary.by_type.items()) or "none"
    console.print(f"{summary.records} records over {summary.clips} clips → {summary.out} ({kinds})", highlight=False)
    for why in summary.skipped[:10]:
        console.print(f"  [yellow]skipped:[/] {why}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``export`` to the app."""
    app.command("export")(export_command)
