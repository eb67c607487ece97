"""``scenewatch watch SOURCE``: run the perception loop and store the timeline."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def _concepts(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]


def watch_command(
    source: str = typer.Argument(..., help="Video/audio file, folder, live URL (rtsp://, http://…) or /dev/videoN."),
    for_: str | None = typer.Option(None, "--for", help='What to watch for, comma-separated: "package, doorbell".'),
    db: Path | None = DbOption,
    until: float | None = typer.Option(None, "--until", help="Stop after this many media seconds."),
    stages: str | None = typer.Option(None, "--stages", help="Comma-separated stages (default: all available)."),
    restart: bool = typer.Option(False, "--restart", help="Re-ingest from the start instead of resuming."),
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Watch a source: detect, hear, read and remember what happens, into the timeline."""
    from scenewatch.runtime import service

    overrides: dict[str, Any] = {"concepts": _concepts(for_)}
    if stages:
        overrides["perception"] = {"stages": [s.strip() for s in stages.split(",") if s.strip()]}
    cfg = build_config(config, db, **overrides)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(p: service.Progress) -> None:
                if p.source_id not in tasks:
                    tasks[p.source_id] = bar.add_task(Path(p.uri).name or p.uri, total=p.duration, status="")
                status = f"{p.media_time:7.1f}s  {p.keyframes} keyframes  {p.observations} observations"
                if p.dropped:
                    status += f"  {p.dropped} dropped"
                bar.update(tasks[p.source_id], completed=p.media_time, status=status)

            summaries = service.watch(source, cfg, until=until, restart=restart, on_progress=on_progress, stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    if as_json:
        from dataclasses import asdict

        print_json([asdict(s) for s in summaries])
        return
    for s in summaries:
        line = (f"[bold]{s.source_id}[/] {s.status}: {s.media_time:.1f}s of media in {s.wall_seconds:.1f}s, "
                f"{s.keyframes} keyframes, {s.observations} observations, {s.events} events")
        if s.resumed_from:
            line += f" (resumed at {s.resumed_from:.1f}s)"
        if s.gaps:
            line += f", {s.gaps} stream gaps"
        console.print(line, highlight=False)
        for name, why in s.skipped_stages.items():
            console.print(f"  [yellow]stage {name} skipped:[/] {why}", highlight=False)
    console.print(f"timeline: {cfg.store.path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the app."""
    app.command("watch")(watch_command)
