"""``scenewatch info SOURCE``: duration, streams and codecs."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from scenewatch.cli.common import JsonOption, console, print_json


def info_command(
    source: str = typer.Argument(..., help="File, folder, live URL or device."),
    as_json: bool = JsonOption,
) -> None:
    """Show what a source holds, without ingesting it."""
    from scenewatch.runtime import service

    infos = service.probe(source)
    if as_json:
        print_json([asdict(i) | {"has_video": i.has_video, "has_audio": i.has_audio} for i in infos])
        return
    table = Table("id", "kind", "duration", "video", "audio", "uri")
    for i in infos:
        video = f"{i.video_codec} {i.width}x{i.height} {i.fps:.2f} fps" if i.has_video else "-"
        audio = f"{i.audio_codec} {i.audio_rate} Hz x{i.audio_channels}" if i.has_audio else "-"
        dur = "live" if i.duration is None else f"{i.duration:.2f}s"
        table.add_row(i.id, i.kind, dur, video, audio, i.uri)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``info`` to the app."""
    app.command("info")(info_command)
