"""``scenewatch outbox list|flush``: see and deliver actions (webhook, MQTT, command) still pending."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json

outbox_app = typer.Typer(help="Actions of fired events waiting for delivery.", no_args_is_help=True)


@outbox_app.command("list")
def list_command(
    all_rows: bool = typer.Option(False, "--all", help="Include delivered rows (newest first)."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many rows."),
    as_json: bool = JsonOption,
    config_path: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """List pending deliveries: target, attempts, last error."""
    from scenewatch.runtime.outbox import list_outbox

    rows = list_outbox(build_config(config_path, db), include_delivered=all_rows, limit=limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        error = f"  ({r['last_error']})" if r["last_error"] else ""
        typer.echo(f"{r['id']:>5}  event {r['event_id']:<5} {r['rule'] or '':<16} {r['action']:<8} {r['status']:<9} "
                   f"{r['attempts']} tries  {r['target']}{error}")
    console.print(f"{len(rows)} {'rows' if all_rows else 'pending'}", highlight=False)


@outbox_app.command("flush")
def flush_command(
    retry_given_up: bool = typer.Option(False, "--retry-given-up", help="Also retry rows that gave up."),
    as_json: bool = JsonOption,
    config_path: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Deliver every pending action now, ignoring backoff; an error (exit 2) if some still fail."""
    from dataclasses import asdict

    from scenewatch.errors import ScenewatchError
    from scenewatch.runtime.outbox import flush_outbox

    result = flush_outbox(build_config(config_path, db), retry_given_up=retry_given_up)
    if as_json:
        print_json(asdict(result))
    else:
        console.print(f"delivered {result.delivered}, still pending {result.pending}", highlight=False)
    if result.pending:
        raise ScenewatchError(f"{result.pending} deliveries still pending (see `scenewatch outbox list`)")


def register(app: typer.Typer) -> None:
    """Add the ``outbox`` command group."""
    app.add_typer(outbox_app, name="outbox")
