"""``scenewatch serve``: the API, the web UI and background pipeline workers in one process."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, build_config, console


def serve_command(
    host: str | None = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default 8976)."),
    no_workers: bool = typer.Option(False, "--no-workers", help="Serve the timeline without watching sources."),
    ray: bool = typer.Option(False, "--ray", help="Run each source in a Ray actor (see ADDRESS)."),
    address: str | None = typer.Argument(
        None, help="With --ray: the cluster address (auto, ray://head:10001); none starts a local cluster."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
) -> None:
    """Serve the REST API (/api, docs at /api/docs), the web UI (/) and watch the configured sources."""
    # The one place the CLI reaches the API layer: this command launches it.
    from scenewatch.api import launcher

    serve = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    cfg = build_config(config, db, serve=serve or None)
    launcher.check_bind(cfg)
    generated = launcher.prepare_password(cfg)
    if generated:
        console.print(f"[bold]admin password (shown once):[/] {generated}", highlight=False)
    if address is not None and not ray:
        raise typer.BadParameter(f"unexpected argument {address!r} (a Ray address goes with --ray)")
    launcher.run(cfg, workers=not no_workers, say=lambda line: console.print(line, highlight=False),
                 ray=(address or "local") if ray else None)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command("serve")(serve_command)
