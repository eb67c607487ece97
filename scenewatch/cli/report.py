"""``scenewatch report [--since S] [--until S] [--source ID]``: a period summarised with evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, print_json
from scenewatch.vocabulary.time import format_time


def register(app: typer.Typer) -> None:
    """Add the ``report`` command."""

    @app.command("report")
    def report_command(
        since: float | None = typer.Option(None, "--since", help="Start of the period (media seconds)."),
        until: float | None = typer.Option(None, "--until", help="End of the period (media seconds)."),
        source: str | None = typer.Option(None, "--source", help="Only this source id."),
        as_json: bool = JsonOption,
        config_path: Path | None = ConfigOption,
        db: Path | None = DbOption,
    ) -> None:
        """Summarise what happened in a period across sources: events first, then highlights."""
        from scenewatch.runtime import service

        config = build_config(config_path, db)
        result = service.report(config, since=since, until=until, source_id=source)
        if as_json:
            print_json(result.to_json())
            return
        for src in result.sources:
            typer.echo(f"{src['source_id']}: {src['narrative']}")
            for e in src["events"]:
                typer.echo(f"  [{e['severity']}] {format_time(e['start'])} {e['title']}: {e['summary'][:160]}")
