"""``scenewatch concepts "package, courier, doorbell"``: show what each concept maps onto."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, JsonOption, build_config, console, print_json


def concepts_command(
    concepts: str = typer.Argument(..., help="Comma-separated concepts, e.g. \"package, courier, doorbell\"."),
    as_json: bool = JsonOption,
    no_embeddings: bool = typer.Option(False, "--no-embeddings", help="Use phrasing rules and synonyms only."),
    config: Path | None = ConfigOption,
) -> None:
    """Show what each concept means (objects, arrivals, sounds, text, speech), and which cannot be perceived.

    The meaning comes from the one vocabulary, so it is also what ``--for`` triggers and ``ask`` use.
    """
    from scenewatch.runtime import service

    cmap = service.map_concepts(build_config(config), concepts, use_embeddings=not no_embeddings)
    if as_json:
        print_json(cmap.to_dict())
        return
    from rich.console import Console

    for m in cmap.mappings:
        means = m.summary() if m.targets else "[red]cannot be perceived[/]"
        console.print(f"[bold]{m.concept}[/] → {means}", highlight=False)
    table = Table("concept", "stage", "watches for", "match", "note")
    for m in cmap.mappings:
        if not m.targets:
            table.add_row(m.concept, "[red]—[/]", "[red]cannot be perceived[/]", "", m.note)
            continue
        for i, t in enumerate(m.targets):
            match = t.via if t.via != "embedding" else f"similarity {t.score:.2f}"
            table.add_row(m.concept if i == 0 else "", t.stage, t.describe(), match, m.note if i == 0 else "")
    Console().print(table)
    if cmap.unperceivable:
        console.print(f"[yellow]not perceivable here:[/] {', '.join(cmap.unperceivable)}")


def register(app: typer.Typer) -> None:
    """Add ``concepts`` to the app."""
    app.command("concepts")(concepts_command)
