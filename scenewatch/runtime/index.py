"""Archive indexing: files and time-chunks of long files as independent work units.

``scenewatch index PATH_OR_GLOB`` plans one :class:`~scenewatch.runtime.cluster_chunks.WorkUnit`
per file (or per chunk of a long file) and hands them to an executor: in this process one at a
time, or on a Ray cluster (:mod:`scenewatch.runtime.cluster`) many at once. A unit runs the one
:class:`~scenewatch.runtime.pipeline.Pipeline` into a scratch store on the worker and returns its
rows; the driver stitches a file's chunks and commits the file in one transaction, with
idempotent row keys and every stage marked done. A worker lost mid-unit costs only that unit,
which runs again elsewhere; a driver lost mid-run resumes at the first file not committed.
"""

from __future__ import annotations

import glob
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError, SourceError, StoreError
from scenewatch.ingest.sources import MediaSource, list_sources
from scenewatch.memory.store import RowMeta, StageProgress, TimelineStore
from scenewatch.runtime.cluster_chunks import (
    ChunkSource,
    StoredRow,
    WorkUnit,
    chunk_grid,
    chunk_overlap,
    plan_units,
    stitch,
)
from scenewatch.runtime.pipeline import LOCK_LEASE, SOURCE_STAGE, Pipeline, _holder_gone
from scenewatch.runtime.resume import file_fingerprint, plan_resume
from scenewatch.types import Observation, SourceInfo

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UnitResult:
    """What a worker sends back for one unit: the rows it perceived and how the run went."""

    unit: WorkUnit
    info: SourceInfo | None
    rows: list[StoredRow] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    keyframes: int = 0
    wall_seconds: float = 0.0
    worker: str = ""
    error: str | None = None


@dataclass(slots=True)
class FileSummary:
    """What indexing did to one file."""

    uri: str
    source_id: str = ""
    status: str = "pending"  # done | already done | failed | stopped
    chunks: int = 0
    observations: int = 0
    media_time: float = 0.0
    wall_seconds: float = 0.0  # summed over its units (worker time)
    skipped_stages: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True)
class IndexProgress:
    """A progress report for surfaces (CLI bar): units and media seconds planned and done."""

    event: str  # planned | started | unit | file | retry
    units_total: int = 0
    units_done: int = 0
    media_total: float = 0.0
    media_done: float = 0.0
    files_total: int = 0
    files_done: int = 0
    detail: str = ""
    worker: str = ""  # ``started``: the worker (Ray actor name, or host:pid) the unit went to


class Executor(Protocol):
    """Runs work units and yields their results as they finish (any order)."""

    def run(self, units: Iterable[WorkUnit], on_start: Callable[[WorkUnit, str], None] | None = None
            ) -> Iterator[UnitResult]:
        """Run every unit once (a lost worker's unit runs again) and yield each result."""
        ...


class UnitRunner:
    """Runs one unit with the pipeline; a process keeps one and reuses it (its models stay loaded).

    Args:
        config: the configuration (stages, concepts, where thumbnails go).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.units_run = 0

    def run(self, unit: WorkUnit, stop: threading.Event | None = None) -> UnitResult:
        """Perceive one unit into a scratch store and return its rows (no shared state is written)."""
        started = time.monotonic()
        media_root = self.config.store.resolved_media_dir()
        with tempfile.TemporaryDirectory(prefix="scenewatch-unit-") as tmp:
            scratch_media = media_root if unit.whole else Path(tmp) / "media"
            store_cfg = self.config.store.model_copy(update={"path": Path(tmp) / "unit.db", "url": None,
                                                             "media_dir": scratch_media})
            cfg = self.config.model_copy(update={"store": store_cfg})
            try:
                source = (MediaSource(unit.uri, cfg.ingest, stop) if unit.whole
                          else ChunkSource(unit, cfg.ingest, stop))
            except ScenewatchError as exc:
                return UnitResult(unit, None, error=str(exc), worker=self.worker)
            info = source.info
            with TimelineStore(cfg.store.path) as store:
                pipeline = Pipeline(cfg, store, stop=stop)
                try:
                    summary = pipeline.run_source(source)
                except ScenewatchError as exc:
                    return UnitResult(unit, info, error=str(exc), worker=self.worker,
                                      wall_seconds=time.monotonic() - started)
                rows: list[StoredRow] = []
                for stage in [*summary.stages, SOURCE_STAGE]:
                    rows.extend(store.stage_tail(info.id, stage, since=-1e18))
            if not unit.whole:
                rows = [(_relocate(o, unit, scratch_media, media_root), m) for o, m in rows]
        self.units_run += 1
        return UnitResult(unit, info, rows, summary.stages, dict(summary.skipped_stages), summary.keyframes,
                          time.monotonic() - started, self.worker,
                          None if summary.status == "done" else f"stopped ({summary.status})")


def _relocate(obs: Observation, unit: WorkUnit, scratch_root: Path, media_root: Path) -> Observation:
    """Move a chunk's thumbnail from its scratch media folder to the store's, under a chunk-unique name."""
    rel = getattr(obs.payload, "thumbnail", None)
    if not rel:
        return obs
    src = scratch_root / rel
    dest = media_root / Path(rel).parent / f"c{unit.index}-{Path(rel).name}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.exists() or not dest.exists():  # two rows may share one thumbnail (arrival, departure)
            os.replace(src, dest)
    except OSError as exc:  # a thumbnail is a convenience; the row stands without it
        log.warning("cannot keep thumbnail %s: %s", src, exc)
        return replace(obs, payload=obs.payload.model_copy(update={"thumbnail": None}))
    return replace(obs, payload=obs.payload.model_copy(update={"thumbnail": dest.relative_to(media_root).as_posix()}))


class LocalExecutor:
    """Runs units one after another in this process (``index`` without ``--ray``)."""

    def __init__(self, config: Config, stop: threading.Event | None = None) -> None:
        self.runner = UnitRunner(config)
        self.stop = stop

    def run(self, units: Iterable[WorkUnit], on_start: Callable[[WorkUnit, str], None] | None = None
            ) -> Iterator[UnitResult]:
        """Run each unit here, in order."""
        for unit in units:
            if self.stop is not None and self.stop.is_set():
                return
            if on_start is not None:
                on_start(unit, self.runner.worker)
            yield self.runner.run(unit, self.stop)


def expand_targets(target: str, config: Config) -> list[str]:
    """Files named by a path, folder or glob (``footage/**/*.mp4``), in name order, each once."""
    if any(c in target for c in "*?["):
        matches = sorted(glob.glob(os.path.expanduser(target), recursive=True))
        if not matches:
            raise SourceError(f"nothing matches {target}")
        found: list[str] = []
        for m in matches:
            found.extend(list_sources(m, config.ingest))
        return list(dict.fromkeys(found))
    return list_sources(target, config.ingest)


def index(target: str, config: Config, *, executor: Executor | None = None, chunk: float | None = None,
          overlap: float | None = None, restart: bool = False,
          on_progress: Callable[[IndexProgress], None] | None = None,
          stop: threading.Event | None = None) -> list[FileSummary]:
    """Index files (and chunks of long files) into the configured store.

    Args:
        target: a file, folder or glob of media files (paths every worker can read).
        config: the configuration (stages, store).
        executor: where units run (default: this process, one at a time).
        chunk: split files longer than 1.5× this many seconds into chunks of about this length.
        overlap: lead and tail of each chunk (default: :func:`chunk_overlap` of the stages).
        restart: index files again even when every stage is already done.
        on_progress: progress reports (called from this thread).
        stop: set to stop after the units in flight.
    """
    from scenewatch.runtime.service import _index_vectors, _Triggers, open_store

    stop = stop or threading.Event()
    executor = executor or LocalExecutor(config, stop)
    lap = chunk_overlap(config) if overlap is None else overlap
    stages = list(dict.fromkeys(config.perception.stages))
    summaries: dict[str, FileSummary] = {}
    units: list[WorkUnit] = []
    progress = IndexProgress("planned")
    with open_store(config) as store:
        for uri in expand_targets(target, config):
            try:
                info = MediaSource(uri, config.ingest).info
            except ScenewatchError as exc:
                summaries[uri] = FileSummary(uri, status="failed", error=str(exc))
                continue
            summary = summaries[info.uri] = FileSummary(info.uri, info.id)
            plan = plan_resume(store, info.id, info.kind, stages, file_fingerprint(info.uri), restart)
            if info.kind != "file" or not plan.run:
                summary.status = "already done" if info.kind == "file" else "failed"
                summary.error = None if info.kind == "file" else "index takes files; use watch/serve for streams"
                continue
            file_units = plan_units(info.uri, info.duration, chunk, lap, chunk_grid(config))
            summary.chunks = len(file_units)
            units.extend(file_units)
            progress.media_total += info.duration or 0.0
        progress.units_total, progress.files_total = len(units), sum(1 for s in summaries.values() if s.chunks)
        _report(on_progress, progress)
        triggers = _Triggers(config, store)
        pending: dict[str, list[UnitResult]] = {}

        def started(unit: WorkUnit, worker: str) -> None:
            _report(on_progress, replace(progress, event="started", detail=unit.name, worker=worker))

        try:
            for result in executor.run(units, on_start=started):
                uri = result.unit.uri
                got = pending.setdefault(uri, [])
                got.append(result)
                progress.units_done += 1
                progress.media_done += _unit_media(result)
                _report(on_progress, replace(progress, event="unit", detail=result.unit.name))
                if len(got) < summaries[uri].chunks:
                    continue
                _commit_file(store, summaries[uri], pending.pop(uri), stages, triggers)
                progress.files_done += 1
                _report(on_progress, replace(progress, event="file", detail=uri))
        finally:
            for uri in pending:
                summaries[uri].status = "stopped"
            triggers.finish([])
        for s in summaries.values():
            if s.status == "pending":
                s.status = "stopped"
        _index_vectors(config, store)
    return list(summaries.values())


def _report(on_progress: Callable[[IndexProgress], None] | None, p: IndexProgress) -> None:
    if on_progress is not None:
        on_progress(p)


def _unit_media(result: UnitResult) -> float:
    unit, info = result.unit, result.info
    end = unit.end if unit.end is not None else (info.duration if info is not None else None) or unit.start
    return max(0.0, end - unit.start)


def _commit_file(store: TimelineStore, summary: FileSummary, results: list[UnitResult], stages: list[str],
                 triggers: object) -> None:
    """Stitch a file's units and write it in one transaction, every stage it ran marked done."""
    summary.wall_seconds = sum(r.wall_seconds for r in results)
    failed = [r for r in results if r.error is not None or r.info is None]
    if failed:
        stopped = all(r.error is not None and r.error.startswith("stopped") for r in failed)
        summary.status, summary.error = ("stopped", None) if stopped else ("failed", failed[0].error)
        return
    info = results[0].info
    assert info is not None
    rows = stitch([(r.unit, r.rows) for r in results]) if len(results) > 1 else \
        [(replace(o, id=None), replace(m, open=False)) for o, m in results[0].rows]
    skipped: dict[str, str] = {}
    for r in results:
        skipped.update(r.skipped)
    ran = [s for s in stages if s in results[0].stages and not skipped.get(s, "").startswith("failed")]
    no_track = [s for s, why in skipped.items() if why.startswith("no ")]
    duration = info.duration or max((o.end for o, _ in rows), default=0.0)
    owner = f"{socket.gethostname()}:{os.getpid()}:index-{uuid.uuid4().hex[:8]}"
    store.upsert_source(info)
    if not _lock(store, info.id, owner):
        summary.status, summary.error = "failed", f"{info.uri}: another run kept the source locked"
        return
    try:
        for name in ran:
            store.reset_stage(info.id, name, after=0.0)
        done = {n: StageProgress(duration, "done") for n in [*ran, *no_track]}
        inserts = [o for o, _ in rows]
        ids = store.commit_batch(inserts, progress=(info.id, duration), meta=_keys(rows), stages=done)
        for name in ran:
            store.close_open_rows(info.id, name)
        store.set_source_fingerprint(info.id, file_fingerprint(info.uri))
        store.set_source_status(info.id, "done")
    finally:
        store.release_source_lock(info.id, owner)
    summary.status, summary.observations, summary.media_time = "done", len(ids), duration
    summary.skipped_stages = skipped
    hook = getattr(triggers, "hook", None)
    if hook is not None and ids:
        try:
            hook([replace(o, id=i) for o, i in zip(inserts, ids, strict=True)])
        except Exception:  # triggers must never stop indexing
            log.exception("trigger hook failed")


def _lock(store: TimelineStore, source_id: str, owner: str, wait: float = LOCK_LEASE) -> bool:
    """Take the source's lock, waiting while another writer (a racing indexer, a ``watch``) holds it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            store.acquire_source_lock(source_id, owner, LOCK_LEASE, gone=_holder_gone)
            return True
        except StoreError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def _keys(rows: list[StoredRow]) -> list[RowMeta]:
    """Idempotent keys from each row's content (the same file indexed twice gives the same keys)."""
    seen: dict[str, int] = {}
    out = []
    for obs, meta in rows:
        box = ",".join(f"{v:.0f}" for v in obs.box) if obs.box else ""
        crc = zlib.crc32(f"{obs.label}\x00{obs.text}\x00{box}".encode()) & 0xFFFFFFFF
        key = f"{meta.stage}:{obs.kind}@{obs.start:.3f}-{obs.end:.3f}:{crc:08x}"
        n = seen[key] = seen.get(key, 0) + 1
        out.append(RowMeta(meta.stage, key if n == 1 else f"{key}#{n}", False))
    return out


def index_archive(target: str, config: Config, *, ray: str | None = None, workers: int | None = None,
                  chunk: float | None = None, restart: bool = False,
                  on_progress: Callable[[IndexProgress], None] | None = None,
                  stop: threading.Event | None = None) -> list[FileSummary]:
    """``scenewatch index``: :func:`index` in this process, or on Ray when ``ray`` names a cluster.

    Args:
        target: file, folder or glob.
        config: the configuration (``cluster`` section: chunk length, overlap, worker size).
        ray: ``None`` runs here; ``local``: ``cluster.address`` from the config, else a Ray cluster
            started on this machine; else a Ray address.
        workers: Ray worker actors (default from the config / cluster size).
        chunk: seconds per chunk (default ``cluster.chunk_seconds``).
        restart: index files again even when already done.
        on_progress: progress reports.
        stop: set to stop after the units in flight.
    """
    stop = stop or threading.Event()
    executor: Executor
    if ray is None:
        executor = LocalExecutor(config, stop)
    else:
        from scenewatch.runtime.cluster import RayExecutor

        executor = RayExecutor(config, address=None if ray == "local" else ray, workers=workers, stop=stop)
    return index(target, config, executor=executor, chunk=chunk or config.cluster.chunk_seconds,
                 overlap=config.cluster.overlap, restart=restart, on_progress=on_progress, stop=stop)
