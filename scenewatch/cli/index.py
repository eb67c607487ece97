"""``scenewatch index PATH_OR_GLOB``: index an archive, in this process or on a Ray cluster."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def index_command(
    target: str = typer.Argument(..., help="File, folder or glob ('footage/**/*.mp4') of media files."),
    address: str | None = typer.Argument(
        None, help="With --ray: the cluster address (auto, ray://head:10001); none starts a local cluster."),
    ray: bool = typer.Option(False, "--ray", help="Run the units on Ray worker actors (see ADDRESS)."),
    chunk: float | None = typer.Option(None, "--chunk", min=10,
                                       help="Split files longer than 1.5x this many seconds (default 600)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Ray worker actors (default: CPUs / 2)."),
    stages: str | None = typer.Option(None, "--stages", help="Comma-separated stages (default: all available)."),
    restart: bool = typer.Option(False, "--restart", help="Index files again even when already done."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Index an archive: files and time-chunks of long files as parallel work units, into the timeline."""
    from scenewatch.runtime import index

    if address is not None and not ray:
        raise typer.BadParameter(f"unexpected argument {address!r} (a Ray address goes with --ray)")
    if address is not None and not Path(target).exists() and Path(address).exists():
        target, address = address, target  # ``index --ray ADDRESS PATH``
    cluster = (address or "local") if ray else None
    overrides: dict[str, Any] = {}
    if stages:
        overrides["perception"] = {"stages": [s.strip() for s in stages.split(",") if s.strip()]}
    cfg = build_config(config, db, **overrides)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        console.print("stopping: finishing the units in flight", style="yellow")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("indexing", total=None, note="")

            def on_progress(p: index.IndexProgress) -> None:
                note = f"{p.files_done}/{p.files_total} files, {p.media_done:.0f}/{p.media_total:.0f} s media"
                if p.event == "started":
                    note += f"  → {Path(p.detail).name} on {p.worker}"
                bar.update(task, total=p.units_total, completed=p.units_done, note=note)

            summaries = index.index_archive(target, cfg, ray=cluster, workers=workers, chunk=chunk, restart=restart,
                                            on_progress=on_progress, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [s for s in summaries if s.status == "failed"]
    if as_json:
        from dataclasses import asdict

        print_json([asdict(s) for s in summaries])
    else:
        for s in summaries:
            if s.status == "failed":
                console.print(f"[red]failed[/] {s.uri}: {s.error}", highlight=False, soft_wrap=True)
                continue
            line = f"[bold]{s.source_id}[/] {s.status}"
            if s.status == "done":
                line += (f": {s.media_time:.1f}s of media, {s.chunks} chunk{'s' if s.chunks > 1 else ''}, "
                         f"{s.observations} observations, {s.wall_seconds:.1f}s worker time")
            console.print(line, highlight=False)
            for name, why in s.skipped_stages.items():
                console.print(f"  [yellow]stage {name} skipped:[/] {why}", highlight=False)
        console.print(f"timeline: {cfg.store.location}", highlight=False)
    if failed or any(s.status == "stopped" for s in summaries):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``index`` to the app."""
    app.command("index")(index_command)
