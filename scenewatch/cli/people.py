"""``scenewatch people add|list|name|forget``: known faces (opt-in biometric data, stored locally)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json

people_app = typer.Typer(help="Enrol, name and forget known faces (biometric data kept only in the local "
                              "database; used when perception.faces.enabled is true).", no_args_is_help=True)


@people_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The person's name."),
    images: list[Path] = typer.Argument(..., help="One or more photos showing the face.", exists=True,
                                        dir_okay=False),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Enrol a person from photos."""
    from scenewatch.runtime import people_service

    entry = people_service.add_person(build_config(config, db), name, images)
    if as_json:
        print_json(asdict(entry))
    else:
        console.print(f"enrolled [bold]{entry.name}[/] (id {entry.id}, {entry.faces} face(s))", highlight=False)


@people_app.command("list")
def list_command(db: Path | None = DbOption, config: Path | None = ConfigOption,
                 as_json: bool = JsonOption) -> None:
    """List enrolled people and unnamed clusters of unknown faces."""
    from rich.table import Table

    from scenewatch.runtime import people_service

    entries = people_service.list_people(build_config(config, db))
    if as_json:
        print_json([asdict(e) for e in entries])
        return
    table = Table("id", "name", "faces")
    for e in entries:
        table.add_row(str(e.id), e.name or "[dim]unknown (name it: people name ID NAME)[/]", str(e.faces))
    console.print(table)


@people_app.command("name")
def name_command(
    cluster: int = typer.Argument(..., help="Id of an unknown-face cluster (`people list`)."),
    name: str = typer.Argument(..., help="Who it is."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Name a cluster of unknown faces (it joins the person if the name is already enrolled)."""
    from scenewatch.runtime import people_service

    entry = people_service.name_cluster(build_config(config, db), cluster, name)
    if as_json:
        print_json(asdict(entry))
    else:
        console.print(f"cluster {cluster} is now [bold]{entry.name}[/] ({entry.faces} face(s))", highlight=False)


@people_app.command("forget")
def forget_command(
    name: str = typer.Argument(..., help="Name of the person (or id of an unnamed cluster)."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a person's face descriptors and crops."""
    from scenewatch.runtime import people_service

    n = people_service.forget_person(build_config(config, db), name)
    if as_json:
        print_json({"name": name, "faces_deleted": n})
    else:
        console.print(f"forgot {name}: {n} face(s) deleted", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``people`` to the root app."""
    app.add_typer(people_app, name="people")
