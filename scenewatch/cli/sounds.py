"""``scenewatch sounds FILE``: sound events (doorbell, glass, alarm…) with times and scores."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.cli.transcribe import media_progress


def register(app: typer.Typer) -> None:
    """Add the ``sounds`` command."""

    @app.command("sounds")
    def sounds(
        file: Path = typer.Argument(..., help="Audio or video file.", show_default=False),
        json_out: bool = JsonOption,
        allow: list[str] = typer.Option([], "--only", help="Report only this AudioSet label (repeatable).",
                                        show_default=False),
        speech: bool = typer.Option(False, "--speech", help="Also report speech, silence and room tone."),
        db: Path | None = DbOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List the sound events heard in FILE."""
        from scenewatch.runtime import service

        overrides: dict[str, object] = {}
        if allow:
            overrides["allow"] = list(allow)
        if speech:
            overrides["include_speech"] = True
        cfg = build_config(config, db, perception={"sounds": overrides} if overrides else None)
        with media_progress(f"listening to {file.name}") as progress:
            events = service.sounds_file(file, cfg, store=db, progress=progress)
        if json_out:
            print_json([service.sound_row(e) for e in events])
            return
        for e in events:
            typer.echo(f"{e.start:8.2f} {e.end:8.2f}  {e.confidence:.2f}  {e.label}")
        if not events:
            console.print("no sound events heard", style="dim")
