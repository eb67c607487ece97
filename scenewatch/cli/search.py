"""``scenewatch search``, ``scenewatch reembed`` and ``scenewatch prune``: finding and keeping memories."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json


def _fmt(seconds: float) -> str:
    minutes, sec = divmod(seconds, 60)
    return f"{int(minutes)}:{sec:05.2f}"


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
    from scenewatch.memory.search import SearchFilters, parse_media_time, search_with_config

    cfg = build_config(config, db)
    filters = SearchFilters(source_id=source, kinds=tuple(kind or ()), since=parse_media_time(since),
                            until=parse_media_time(until))
    moments = search_with_config(cfg, query, filters, limit=limit, use_vectors=not keywords_only)
    if as_json:
        print_json([m.to_dict() for m in moments])
        return
    table = Table("score", "source", "start", "end", "kind", "snippet", "obs", "thumbnail")
    for m in moments:
        table.add_row(f"{m.score:.4f}", m.source_id, _fmt(m.start), _fmt(m.end), m.kind, m.snippet[:70],
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

    from scenewatch.memory.store import TimelineStore
    from scenewatch.memory.vectors import VectorIndex, build_embedder, reembed

    cfg = build_config(config, db)
    embedder = build_embedder(cfg.perception.embed)
    with TimelineStore(cfg.store.path) as store, Progress(console=console, transient=True) as bar:
        previous = VectorIndex.for_store(store).model()
        task = bar.add_task("embedding", total=None)
        count = reembed(store, embedder, progress=lambda done, total: bar.update(task, completed=done, total=total))
    result = {"model": embedder.model_name, "dim": embedder.dim, "embedded": count,
              "previous_model": previous[0] if previous else None}
    if as_json:
        print_json(result)
    else:
        console.print(f"re-embedded {count} observations with {embedder.model_name} ({embedder.dim}-d)",
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

    from scenewatch.errors import ConfigError
    from scenewatch.memory.retention import prune
    from scenewatch.memory.store import TimelineStore

    cfg = build_config(config, db)
    days = cfg.store.retention_days if days is None else days
    gb = cfg.store.retention_gb if gb is None else gb
    if days is None and gb is None:
        raise ConfigError("nothing to prune by: pass --days/--gb or set store.retention_days/retention_gb")
    with TimelineStore(cfg.store.path) as store:
        report = prune(store, cfg.store.resolved_media_dir(), days=days, max_gb=gb, dry_run=dry_run)
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
