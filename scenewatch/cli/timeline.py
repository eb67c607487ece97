"""``scenewatch timeline``: list what was stored."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def timeline_command(
    source: str | None = typer.Option(None, "--source", help="Only this source id."),
    kind: list[str] | None = typer.Option(None, "--kind", help="Only these kinds (repeatable)."),
    since: float | None = typer.Option(None, "--since", help="From this media time (s)."),
    until: float | None = typer.Option(None, "--until", help="Up to this media time (s)."),
    min_confidence: float = typer.Option(0.0, "--min-confidence"),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """List stored observations in time order."""
    from scenewatch.runtime import service

    cfg = build_config(config, db)
    rows = service.timeline(cfg, source, kind, since, until, min_confidence)
    if as_json:
        print_json([service.observation_dict(o) for o in rows])
        return
    table = Table("id", "source", "start", "end", "kind", "label", "text", "conf", "box")
    for o in rows:
        box = "" if o.box is None else "[" + ",".join(f"{v:.0f}" for v in o.box) + "]"
        table.add_row(str(o.id), o.source_id, f"{o.start:.2f}", f"{o.end:.2f}", o.kind, o.label,
                      o.text[:60], f"{o.confidence:.2f}", box)
    console.print(table)
    console.print(f"{len(rows)} observations in {cfg.store.location}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``timeline`` to the app."""
    app.command("timeline")(timeline_command)
