"""``scenewatch detect FILE --for "person, dog"``: tracked objects with their time spans."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def detect_command(
    path: Path = typer.Argument(..., help="Video or image file."),
    concepts: str = typer.Option(..., "--for", "-f", help="What to look for, comma-separated (\"person, dog\")."),
    as_json: bool = JsonOption,
    backend: str | None = typer.Option(None, "--backend", "-b", help="Detector: nanodet (default) or sam3.",
                                       show_default=False),
    threshold: float | None = typer.Option(None, "--threshold", help="Minimum box score (default 0.35).",
                                           show_default=False),
    media_dir: Path | None = typer.Option(None, "--media-dir", help="Where track thumbnails go.",
                                          show_default=False),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
) -> None:
    """Find, track and time-stamp the given concepts in a video (or boxes in an image)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from scenewatch.runtime import service

    detect: dict[str, object] = {}
    if backend is not None:
        detect["backend"] = backend
    if threshold is not None:
        detect["score_threshold"] = threshold
    cfg = build_config(config, db, perception={"detect": detect} if detect else None)
    with Progress(TextColumn("detecting"), BarColumn(), TextColumn("{task.completed:.1f} s"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("detect", total=None)

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done, total=total or None)

        rows = [service.object_row(o) for o in service.detect_file(path, concepts, cfg, store=db, media_dir=media_dir,
                                                                   progress=progress)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("nothing found")
        return
    from rich.console import Console

    table = Table("track", "concept", "label", "start", "end", "score", "best box", "thumbnail")
    for r in rows:
        table.add_row(str(r["track_id"] if r["track_id"] is not None else "-"), str(r["concept"]), str(r["label"]),
                      f"{r['start']:.2f}", f"{r['end']:.2f}", f"{r['score']:.2f}",
                      str([round(v) for v in r["box"]] if r["box"] else ""), str(r["thumbnail"] or ""))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``detect`` to the app."""
    app.command("detect")(detect_command)
