"""``scenewatch ask SOURCE_OR_DB "question" [--json]``: a grounded answer with cited evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.vocabulary.time import format_span


def register(app: typer.Typer) -> None:
    """Add the ``ask`` command."""

    @app.command("ask")
    def ask_command(
        target: str = typer.Argument(..., help="A file or folder (watched first if needed), a watched URL or "
                                     "source id, 'all' for the whole timeline, or a timeline .db file."),
        question: str = typer.Argument(..., help="The question, in plain words."),
        as_json: bool = JsonOption,
        reasoner: str | None = typer.Option(None, "--reasoner", help="llama-cpp, openai, qwen-vl or none."),
        model: str | None = typer.Option(None, "--model", help="GGUF name/path or model id."),
        config_path: Path | None = ConfigOption,
        db: Path | None = DbOption,
    ) -> None:
        """Answer a question about what was seen and heard, citing times and boxes."""
        from scenewatch.runtime import service

        overrides = {k: v for k, v in {"backend": reasoner, "model": model}.items() if v}
        config = build_config(config_path, db, reasoner=overrides or None)
        with Progress(TextColumn("watching {task.description} first"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True, disable=as_json) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(p: Any) -> None:
                if p.source_id not in tasks:
                    tasks[p.source_id] = bar.add_task(Path(p.uri).name or p.uri, total=p.duration)
                bar.update(tasks[p.source_id], completed=p.media_time)

            result = service.ask(config, target, question, on_progress=on_progress, on_fallback=lambda why: (
                console.print(f"[yellow]reasoner unavailable, answering with rules only:[/] {why}")))
        if as_json:
            print_json(result.to_json())
            return
        typer.echo(result.answer.text)
        several = len({e.source_id for e in result.answer.evidence}) > 1
        for e in result.answer.evidence:
            box = "" if e.box is None else " box [" + ", ".join(f"{v:.0f}" for v in e.box) + "]"
            where = f" [{e.source_id}]" if several else ""
            typer.echo(f"  #{e.observation_id}{where} {e.kind} {format_span(e.start, e.end)}{box} {e.snippet[:60]}")
