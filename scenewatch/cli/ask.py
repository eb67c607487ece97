"""``scenewatch ask SOURCE_OR_DB "question" [--json]``: a grounded answer with cited evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.memory.store import TimelineStore


def open_target(target: str, db: Path | None, config_path: Path | None) -> tuple[TimelineStore, str | None]:
    """Open ``target`` as a timeline database, or find it as a source in the configured one."""
    path = Path(target).expanduser()
    if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
        return TimelineStore(path, readonly=True), None
    config = build_config(config_path, db)
    store = TimelineStore(config.store.path, readonly=True)
    wanted = {target, str(path.resolve()) if path.exists() else target}
    for source in store.list_sources():
        if source["id"] in wanted or source["uri"] in wanted:
            return store, str(source["id"])
    store.close()
    raise ScenewatchError(f"{target} is not in the timeline {config.store.path}: run `scenewatch watch {target}` "
                          "first, or pass a timeline .db")


def register(app: typer.Typer) -> None:
    """Add the ``ask`` command."""

    @app.command("ask")
    def ask_command(
        target: str = typer.Argument(..., help="A watched source (file/URL/id) or a timeline .db file."),
        question: str = typer.Argument(..., help="The question, in plain words."),
        as_json: bool = JsonOption,
        reasoner: str | None = typer.Option(None, "--reasoner", help="llama-cpp, openai, qwen-vl or none."),
        model: str | None = typer.Option(None, "--model", help="GGUF name/path or model id."),
        config_path: Path | None = ConfigOption,
        db: Path | None = DbOption,
    ) -> None:
        """Answer a question about what was seen and heard, citing times and boxes."""
        from scenewatch.reasoning import build_reasoner
        from scenewatch.reasoning.answer import ask

        overrides = {k: v for k, v in {"backend": reasoner, "model": model}.items() if v}
        config = build_config(config_path, db, reasoner=overrides or None)
        store, source_id = open_target(target, db, config_path)
        try:
            try:
                model_obj = build_reasoner(config.reasoner)
            except BackendUnavailable as exc:
                console.print(f"[yellow]reasoner unavailable, answering with rules only:[/] {exc}")
                model_obj = None
            result = ask(store, question, source_id=source_id, reasoner=model_obj, settings=config.reasoner)
        finally:
            store.close()
        if as_json:
            print_json(result.to_json())
            return
        typer.echo(result.answer.text)
        for e in result.answer.evidence:
            box = "" if e.box is None else " box [" + ", ".join(f"{v:.0f}" for v in e.box) + "]"
            typer.echo(f"  #{e.observation_id} {e.kind} {e.start:.1f}–{e.end:.1f} s{box} {e.snippet[:60]}")
