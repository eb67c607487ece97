"""``scenewatch read IMAGE|VIDEO``: the text in an image, or each line of text in a video and when."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def read_command(
    path: Path = typer.Argument(..., help="Image (PNG, JPEG, TIFF, GIF, WebP…) or video file."),
    as_json: bool = JsonOption,
    backend: str | None = typer.Option(None, "--backend", "-b",
                                       help="Text reader: rapidocr, rapidocr-fast or trocr.", show_default=False),
    fps: float | None = typer.Option(None, "--fps", help="Videos: steady reading rate per second (default 1).",
                                     show_default=False),
    full_frame: bool = typer.Option(False, "--full-frame", help="Videos: read whole frames, not changed regions."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
) -> None:
    """Read the text in an image, or each line of text in a video with the time it was visible."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from scenewatch.runtime import service

    ocr: dict[str, object] = {}
    if backend is not None:
        ocr["backend"] = backend
    if fps is not None:
        ocr["video_fps"] = fps
    if full_frame:
        ocr["full_frame"] = True
    cfg = build_config(config, db, perception={"ocr": ocr} if ocr else None)
    with Progress(TextColumn("reading"), BarColumn(), TextColumn("{task.completed:.0f} s"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("read", total=None)

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done, total=total or None)

        rows = [service.text_row(o) for o in service.read_file(path, cfg, store=db, progress=progress)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no text found")
        return
    from rich.console import Console

    table = Table("start", "end", "text", "box", "score")
    for r in rows:
        table.add_row(f"{r['start']:.2f}", f"{r['end']:.2f}", str(r["text"]), str(r["box"]), f"{r['score']:.2f}")
    Console().print(table)  # results go to stdout


def register(app: typer.Typer) -> None:
    """Add ``read`` to the app."""
    app.command("read")(read_command)
