"""``scenewatch search``, ``scenewatch reembed`` and ``scenewatch prune``: finding and keeping memories."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.vocabulary.time import format_time


def search_command(
    query: str = typer.Argument(..., help="What to look for, in plain words."),
    source: str | None = typer.Option(None, "--source", help="Only this source id."),
    kind: list[str] | None = typer.Option(None, "--kind", help="Only these kinds (repeatable): speech, text, "
                                                              "object, sound, scene…"),
    since: str | None = typer.Option(None, "--since", help="From this media time (s, mm:ss or hh:mm:ss)."),
    until: str | None = typer.Option(None, "--until", help="Up to this media time."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="At most this many moments."),
    keywords_only: bool = typer.Option(False, "--keywords-only", help="Skip the vector side."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Find moments by what was said, read, seen or heard."""
    from scenewatch.runtime import service

    cfg = build_config(config, db)
    moments = service.search(cfg, query, source_id=source, kinds=kind or (), since=since, until=until, limit=limit,
                             keywords_only=keywords_only)
    if as_json:
        print_json([m.to_dict() for m in moments])
        return
    table = Table("score", "source", "start", "end", "kind", "snippet", "obs", "thumbnail")
    for m in moments:
        table.add_row(f"{m.score:.4f}", m.source_id, format_time(m.start), format_time(m.end), m.kind, m.snippet[:70],
                      str(m.observation_id), m.thumbnail or "")
    console.print(table)
    console.print(f"{len(moments)} moments for {query[:60]!r}", highlight=False)


def reembed_command(
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Rebuild the vector index with the configured embedder (after changing perception.embed)."""
    from rich.progress import Progress

    from scenewatch.runtime import service

    cfg = build_config(config, db)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("embedding", total=None)
        result = service.reembed(cfg, progress=lambda done, total: bar.update(task, completed=done, total=total))
    count = result["embedded"]
    if as_json:
        print_json(result)
    else:
        console.print(f"re-embedded {count} observations with {result['model']} ({result['dim']}-d)",
                      highlight=False)


def prune_command(
    days: float | None = typer.Option(None, "--days", min=0, help="Keep only this many days "
                                                                  "(default: store.retention_days)."),
    gb: float | None = typer.Option(None, "--gb", min=0, help="Cap thumbnails at this many GB "
                                                              "(default: store.retention_gb)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would be removed."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Apply the retention policy: drop old observations, their vectors and thumbnails together."""
    from dataclasses import asdict

    from scenewatch.runtime import service

    cfg = build_config(config, db)
    report = service.prune(cfg, days=days, gb=gb, dry_run=dry_run)
    if as_json:
        print_json(asdict(report))
        return
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {report.observations} observations, {report.events} events, {report.thumbnails} "
                  f"thumbnails ({report.bytes_freed / 1e6:.1f} MB); media now {report.media_bytes_after / 1e6:.1f} MB",
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``search``, ``reembed`` and ``prune`` to the app."""
    app.command("search")(search_command)
    app.command("reembed")(reembed_command)
    app.command("prune")(prune_command)
