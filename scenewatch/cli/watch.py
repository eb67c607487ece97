"""``scenewatch watch SOURCE``: run the perception loop and store the timeline."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def _concepts(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]


def _stopper(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """First Ctrl-C/SIGTERM: stop cleanly (commit, mark the source stopped); a second one: exit now."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130 if signum == signal.SIGINT else 143)
        stop.set()
        console.print("stopping: finishing what is in hand (press Ctrl-C again to quit at once)", style="yellow")

    return handle


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
    previous = {sig: signal.signal(sig, _stopper(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [s for s in summaries if s.status == "failed"]
    if as_json:
        from dataclasses import asdict

        print_json([asdict(s) for s in summaries])
        if failed:
            raise typer.Exit(1)
        return
    for s in failed:
        console.print(f"[red]failed[/] {s.uri}: {s.error}", highlight=False, soft_wrap=True)
    for s in summaries:
        if s.status == "failed":
            continue
        line = (f"[bold]{s.source_id}[/] {s.status}: {s.media_time:.1f}s of media in {s.wall_seconds:.1f}s, "
                f"{s.keyframes} keyframes, {s.observations} observations, {s.events} events")
        if s.resumed_from and s.status != "already done":
            line += f" (resumed at {s.resumed_from:.1f}s)"
        already = [n for n in s.done_stages if n not in s.stages]
        if s.stages and already:
            line += f"; ran {', '.join(s.stages)} ({', '.join(already)} already done)"
        if s.gaps:
            line += f", {s.gaps} stream gaps"
        console.print(line, highlight=False)
        for name, why in s.skipped_stages.items():
            console.print(f"  [yellow]stage {name} skipped:[/] {why}", highlight=False)
    console.print(f"timeline: {cfg.store.location}", highlight=False)
    if failed:
        raise typer.Exit(1)  # some sources of a folder could not be ingested


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the app."""
    app.command("watch")(watch_command)
