"""Background pipeline workers of ``scenewatch serve``: one thread per source, with live status.

A :class:`SourceManager` owns one worker thread per watched URI. Each worker calls
:func:`scenewatch.runtime.service.watch` (the same call the CLI makes) with its own stop event
and a progress callback that feeds :class:`SourceStatus`. Files end ``done``; live sources that
fail (the ingest layer already reconnects with backoff) are restarted after a pause until the
source is removed. Sources can be added and removed while the server runs; :meth:`shutdown`
stops every worker and waits for each to commit what it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError
from scenewatch.runtime import queries, service
from scenewatch.runtime.pipeline import Progress

log = logging.getLogger(__name__)

RESTART_DELAY = 5.0  # seconds before a failed live source is watched again


def is_live(uri: str) -> bool:
    """Whether ``uri`` is a stream or device rather than a file or folder."""
    return ("://" in uri and not uri.startswith("file://")) or uri.startswith("/dev/video")


@dataclass(slots=True)
class SourceStatus:
    """What one worker is doing (JSON-ready through :meth:`to_json`)."""

    uri: str
    live: bool
    state: str = "starting"  # starting | running | done | failed | restarting | stopped
    source_ids: list[str] = field(default_factory=list)
    media_time: float = 0.0
    duration: float | None = None
    fps: float = 0.0  # keyframes analysed per wall second (recent)
    speed: float = 0.0  # media seconds per wall second (recent)
    lag: float | None = None  # live: seconds the analysis is behind real time
    reconnects: int = 0
    restarts: int = 0
    keyframes: int = 0
    observations: int = 0
    dropped: int = 0
    last_error: str | None = None
    actor: dict[str, Any] | None = None  # serve --ray: the Ray actor running it (name, node, pid, resources, state)
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the API and metrics."""
        return asdict(self)


class _Worker:
    def __init__(self, uri: str, config: Config) -> None:
        self.uri = uri
        self.config = config
        self.stop = threading.Event()
        self.status = SourceStatus(uri=uri, live=is_live(uri))
        self._window: deque[tuple[float, float, int]] = deque(maxlen=20)  # (wall, media, keyframes)
        self._run_start_wall = time.time()
        self._run_start_media: float | None = None
        self.thread = threading.Thread(target=self._loop, name=f"watch:{uri[-40:]}", daemon=True)

    def on_progress(self, p: Progress) -> None:
        now = time.time()
        s = self.status
        if p.source_id not in s.source_ids:
            s.source_ids.append(p.source_id)
        if self._run_start_media is None:
            self._run_start_media = p.media_time
        s.state = "running" if p.status == "running" else p.status
        s.media_time, s.duration = p.media_time, p.duration
        s.keyframes, s.observations, s.dropped = p.keyframes, p.observations, p.dropped
        self._window.append((now, p.media_time, p.keyframes))
        w0 = self._window[0]
        if now - w0[0] > 0.2:
            s.fps = round(max(0, p.keyframes - w0[2]) / (now - w0[0]), 2)
            s.speed = round(max(0.0, p.media_time - w0[1]) / (now - w0[0]), 2)
        if s.live:
            s.lag = round(max(0.0, (now - self._run_start_wall) - (p.media_time - self._run_start_media)), 2)
        s.updated_at = now

    def _loop(self) -> None:
        while not self.stop.is_set():
            self._run_start_wall, self._run_start_media = time.time(), None
            try:
                summaries = service.watch(self.uri, self.config, on_progress=self.on_progress, stop=self.stop)
                self.status.reconnects += sum(s.gaps for s in summaries)
                failed = [s for s in summaries if s.status == "failed"]
                self.status.source_ids = sorted({*self.status.source_ids, *(s.source_id for s in summaries)})
                if failed:
                    self.status.last_error = failed[0].error
                self.status.state = "stopped" if self.stop.is_set() else ("failed" if failed else "done")
            except ScenewatchError as exc:
                self.status.last_error, self.status.state = str(exc), "failed"
            except Exception as exc:  # a worker never takes the server down
                log.exception("worker for %s crashed", self.uri)
                self.status.last_error, self.status.state = f"{type(exc).__name__}: {exc}", "failed"
            self.status.updated_at = time.time()
            if not self.status.live or self.stop.is_set():
                return
            self.status.state, self.status.restarts = "restarting", self.status.restarts + 1
            self.stop.wait(RESTART_DELAY)
        self.status.state = "stopped"


class SourceWorker(Protocol):
    """What the manager needs of a worker: a local thread (:class:`_Worker`) or a Ray actor's proxy."""

    uri: str
    stop: threading.Event
    status: SourceStatus
    thread: threading.Thread


class SourceManager:
    """Runs and tracks one pipeline worker per source URI.

    Args:
        config: the server's config (store path, stages, concepts…).
        worker_factory: builds the worker of a URI (default: a thread in this process;
            ``serve --ray`` passes :func:`scenewatch.runtime.cluster.ray_worker_factory`).
    """

    def __init__(self, config: Config, worker_factory: Callable[[str, Config], SourceWorker] | None = None) -> None:
        self.config = config
        self._factory: Callable[[str, Config], SourceWorker] = worker_factory or _Worker
        self._workers: dict[str, SourceWorker] = {}
        self._lock = threading.Lock()

    def start(self) -> SourceManager:
        """Start workers for the configured sources and those added at run time before."""
        with service.open_store(self.config) as store:
            extra = queries.served_sources(store)
        for uri in dict.fromkeys([*self.config.sources, *extra]):
            self.add(uri, remember=False)
        return self

    def add(self, uri: str, remember: bool = True) -> SourceStatus:
        """Start watching ``uri`` (idempotent); ``remember`` keeps it across restarts.

        Raises:
            SourceError: a file or folder that does not exist.
        """
        uri = uri.strip()
        if not is_live(uri):
            service.probe(uri, self.config)  # fails fast on a missing or unreadable file
        with self._lock:
            worker = self._workers.get(uri)
            if worker is not None and worker.thread.is_alive():
                return worker.status
            worker = self._factory(uri, self.config)
            self._workers[uri] = worker
            worker.thread.start()
        if remember:
            with service.open_store(self.config) as store:
                queries.remember_source(store, uri)
        return worker.status

    def remove(self, uri: str, timeout: float = 30.0) -> bool:
        """Stop watching ``uri``; returns whether it was watched."""
        with self._lock:
            worker = self._workers.pop(uri, None)
        with service.open_store(self.config) as store:
            queries.remember_source(store, uri, keep=False)
        if worker is None:
            return False
        worker.stop.set()
        worker.thread.join(timeout)
        worker.status.state = "stopped"
        return True

    def uri_of(self, source_id: str) -> str | None:
        """The URI of the worker that produced ``source_id``."""
        with self._lock:
            for uri, w in self._workers.items():
                if source_id in w.status.source_ids:
                    return uri
        return None

    def statuses(self) -> list[SourceStatus]:
        """Status of every worker."""
        with self._lock:
            return [w.status for w in self._workers.values()]

    def status_of(self, source_id: str) -> SourceStatus | None:
        """Status of the worker that produced ``source_id``."""
        for s in self.statuses():
            if source_id in s.source_ids:
                return s
        return None

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every worker and wait until each has committed and closed."""
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.stop.set()
        deadline = time.time() + timeout
        for w in workers:
            w.thread.join(max(0.0, deadline - time.time()))
            if w.thread.is_alive():
                log.warning("worker for %s did not stop within %.0f s", w.uri, timeout)
