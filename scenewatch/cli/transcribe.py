"""``scenewatch transcribe FILE``: speech to text with times (plain, JSON, SRT or WebVTT)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.types import Observation


@contextmanager
def media_progress(description: str) -> Iterator[Callable[[float, float | None], None]]:
    """A transient rich progress bar on stderr, fed with (done seconds, total seconds)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
                  TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=None, done="")

        def update(done: float, total: float | None) -> None:
            bar.update(task, completed=done, total=total, done=f"{done:.0f}s")

        yield update


def _clock(seconds: float, sep: str) -> str:
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(segments: list[Observation]) -> str:
    """SubRip subtitles."""
    blocks = [f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n" for i, s in enumerate(segments, 1)]
    return "\n".join(blocks)


def to_vtt(segments: list[Observation]) -> str:
    """WebVTT subtitles."""
    blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def register(app: typer.Typer) -> None:
    """Add the ``transcribe`` command."""

    @app.command("transcribe")
    def transcribe(
        file: Path = typer.Argument(..., help="Audio or video file.", show_default=False),
        json_out: bool = JsonOption,
        srt: bool = typer.Option(False, "--srt", help="Print SubRip subtitles."),
        vtt: bool = typer.Option(False, "--vtt", help="Print WebVTT subtitles."),
        model: str | None = typer.Option(None, "--model", help="tiny.en, base, or a CTranslate2 model directory.",
                                         show_default=False),
        language: str | None = typer.Option(None, "--language", help="Language code (default: detect once).",
                                            show_default=False),
        db: Path | None = DbOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Transcribe the speech in FILE with word-level times."""
        from scenewatch.runtime import service

        if sum((json_out, srt, vtt)) > 1:
            raise typer.BadParameter("choose one of --json, --srt, --vtt")
        asr = {k: v for k, v in {"model": model, "language": language}.items() if v is not None}
        cfg = build_config(config, db, perception={"asr": asr} if asr else None)
        with media_progress(f"transcribing {file.name}") as progress:
            segments = service.transcribe_file(file, cfg, store=db, progress=progress)
        if json_out:
            print_json([service.speech_row(s) for s in segments])
        elif srt:
            typer.echo(to_srt(segments), nl=False)
        elif vtt:
            typer.echo(to_vtt(segments), nl=False)
        else:
            for s in segments:
                typer.echo(f"[{_clock(s.start, '.')} → {_clock(s.end, '.')}] {s.text}")
            if not segments:
                console.print("no speech heard", style="dim")
