"""``scenewatch dataset validate|stats FILE``: check an exported dataset, count what it holds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from scenewatch.cli.common import JsonOption, console, print_json

dataset_app = typer.Typer(help="Check and describe exported datasets.", no_args_is_help=True)


@dataset_app.command("validate")
def validate_command(
    path: Path = typer.Argument(..., help="Dataset file (JSONL)."),
    no_media: bool = typer.Option(False, "--no-media", help="Skip opening and decoding the clips."),
    as_json: bool = JsonOption,
) -> None:
    """Check every record; problems are printed with their line number. Exit 1 when any is found."""
    from scenewatch.runtime import training_service

    report = training_service.validate_dataset(path, check_media=not no_media)
    if as_json:
        print_json({"path": str(report.path), "records": report.records, "ok": report.ok,
                    "issues": [asdict(i) for i in report.issues]})
    else:
        for issue in report.issues:
            console.print(f"{path}:{issue}", highlight=False, markup=False)
        verdict = "[green]ok[/]" if report.ok else f"[red]{len(report.issues)} problems[/]"
        console.print(f"{report.records} records: {verdict}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@dataset_app.command("stats")
def stats_command(path: Path = typer.Argument(..., help="Dataset file (JSONL)."), as_json: bool = JsonOption) -> None:
    """Records per question type, label and format."""
    from scenewatch.runtime import training_service

    stats = training_service.stats_of_dataset(path)
    if as_json:
        print_json(asdict(stats))
        return
    console.print(f"{stats.records} records, {stats.clips} clips, {stats.with_boxes} with boxes", highlight=False)
    for title, counts in (("type", stats.by_type), ("label", stats.by_label), ("format", stats.by_format)):
        console.print(f"by {title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])),
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``dataset`` to the app."""
    app.add_typer(dataset_app, name="dataset")
