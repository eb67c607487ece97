"""Service functions over what is stored: search, ask, report, re-embed, prune.

Surfaces (CLI, REST API) call these instead of reaching into memory/reasoning themselves; each
opens the configured store, does one thing and returns the typed result the surface renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import BackendUnavailable, ConfigError, ScenewatchError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import TimelineStore


def parse_media_time(text: str | None) -> float | None:
    """A media time given as seconds, ``mm:ss`` or ``hh:mm:ss`` (``None`` stays ``None``)."""
    from scenewatch.memory.search import parse_media_time as parse

    return parse(text)


def search(config: Config, query: str, *, source_id: str | None = None, kinds: Sequence[str] = (),
           since: str | None = None, until: str | None = None, limit: int = 10,
           keywords_only: bool = False) -> list[Any]:
    """Moments matching ``query`` (hybrid keyword + vector search), best first."""
    from scenewatch.memory.search import SearchFilters, search_with_config
    from scenewatch.runtime import models

    filters = SearchFilters(source_id=source_id, kinds=tuple(kinds), since=parse_media_time(since),
                            until=parse_media_time(until))
    embedder = None if keywords_only else (lambda: models.embedder(config.perception.embed))
    return list(search_with_config(config, query, filters, limit=limit, embedder=embedder))


def open_target(target: str, config: Config) -> tuple[TimelineStore, str | None]:
    """Open ``target`` as a timeline database, or find it as a source in the configured one.

    Raises:
        ScenewatchError: it is neither a timeline nor a source stored in the configured one.
    """
    path = Path(target).expanduser()
    if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
        return TimelineStore(path, readonly=True), None
    store = open_store(config.store.target, readonly=True)
    wanted = {target, str(path.resolve()) if path.exists() else target}
    for source in store.list_sources():
        if source["id"] in wanted or source["uri"] in wanted:
            return store, str(source["id"])
    store.close()
    raise ScenewatchError(f"{target} is not in the timeline {config.store.path}: run `scenewatch watch {target}` "
                          "first, or pass a timeline .db")


def is_local_media(target: str) -> bool:
    """A file or folder on disk that is not a timeline database (so it can be watched first)."""
    path = Path(target).expanduser()
    if path.is_dir():
        return True
    return path.is_file() and path.read_bytes()[:16] != b"SQLite format 3\x00"


def frame_reader(store: TimelineStore, live_timeout: float = 5.0) -> Callable[[str, float], Any]:
    """``(source_id, t) -> frame``: a stored source's frame at media time ``t`` for the reasoner.

    Files that still exist are decoded at ``t``; live sources give the frame they show now
    (:func:`~scenewatch.runtime.media.frame_at` reads the latest); devices, missing files and
    unknown sources give ``None``.
    """
    from scenewatch.runtime import media

    def frame_of(source_id: str, t: float) -> Any:
        rows = store.execute("SELECT uri, kind FROM sources WHERE id=?", (source_id,))
        if not rows:
            return None
        uri, kind = str(rows[0][0]), str(rows[0][1])
        if kind == "file" and Path(uri).is_file():
            return media.frame_at(uri, t)
        if kind == "live":
            return media.frame_at(uri, t, live=True, timeout=live_timeout)
        return None

    return frame_of


def ask(config: Config, target: str, question: str,
        on_fallback: Callable[[str], None] | None = None,
        watched: Sequence[str] | None = None) -> Any:
    """A grounded answer about ``target``, citing evidence.

    Args:
        config: settings (reasoner, embedder, store).
        target: a watched source (file/URL/id), ``all``, or a timeline database file.
        question: the question in plain words.
        on_fallback: told why, when the configured reasoner is missing and rules answer alone.
        watched: the source ids a watch of ``target`` just produced (one: answer about it; several:
            answer across the timeline).
    """
    from scenewatch.reasoning import build_reasoner
    from scenewatch.reasoning.answer import ask as answer
    from scenewatch.runtime.models import index_embedder

    if watched is not None:
        store = open_store(config.store.target, readonly=True)
        source_id = watched[0] if len(watched) == 1 else None
    elif target == "all":
        store, source_id = open_store(config.store.target, readonly=True), None
    else:
        store, source_id = open_target(target, config)
    try:
        try:
            reasoner = build_reasoner(config.reasoner)
        except BackendUnavailable as exc:
            if on_fallback is not None:
                on_fallback(str(exc))
            reasoner = None
        return answer(store, question, source_id=source_id, reasoner=reasoner, settings=config.reasoner,
                      embedder=index_embedder(config.perception.embed, store),
                      frame_of=frame_reader(store) if getattr(reasoner, "accepts_images", False) else None)
    finally:
        store.close()


def report(config: Config, since: float | None = None, until: float | None = None,
           source_id: str | None = None) -> Any:
    """A period summarised across sources: events first, then highlights."""
    from scenewatch.reasoning.summary import report as summarise

    with open_store(config.store.target, readonly=True) as store:
        return summarise(store, since=since, until=until, source_id=source_id)


def reembed(config: Config, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Rebuild the vector index with the configured embedder; what was done."""
    from scenewatch.memory.vectors import VectorIndex
    from scenewatch.memory.vectors import reembed as rebuild
    from scenewatch.runtime import models

    embedder = models.embedder(config.perception.embed)
    with open_store(config.store.target) as store:
        previous = VectorIndex.for_store(store).model()
        count = rebuild(store, embedder, progress=progress)
    return {"model": embedder.model_name, "dim": embedder.dim, "embedded": count,
            "previous_model": previous[0] if previous else None}


def prune(config: Config, days: float | None = None, gb: float | None = None, dry_run: bool = False) -> Any:
    """Apply the retention policy (rows, vectors and thumbnails together).

    Raises:
        ConfigError: neither a number of days nor a size cap, given or configured.
    """
    from scenewatch.memory.retention import prune as apply_retention

    days = config.store.retention_days if days is None else days
    gb = config.store.retention_gb if gb is None else gb
    if days is None and gb is None:
        raise ConfigError("nothing to prune by: pass --days/--gb or set store.retention_days/retention_gb")
    with open_store(config.store.target) as store:
        return apply_retention(store, config.store.resolved_media_dir(), days=days, max_gb=gb, dry_run=dry_run)
