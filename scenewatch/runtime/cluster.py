"""Ray: index work units on worker actors, and run each served live source in its own actor.

Ray is imported only here and only when used (``pip install 'scenewatch[scale]'``).

Indexing (:class:`RayExecutor`): a pool of long-lived worker actors, each holding a
:class:`~scenewatch.runtime.index.UnitRunner` — the models its stages load stay loaded in that
process from unit to unit. The driver keeps at most ``max_in_flight`` units queued on the
actors (back-pressure: a million-file archive is never submitted at once), and a unit whose
actor died (node lost, OOM, ``ray.kill``) runs again on a fresh actor; the driver stitches and
commits, so a lost unit writes nothing.

Serving (:class:`RaySourceWorker`): each live source is one actor that runs the same
``watch`` loop as a local worker thread (:mod:`scenewatch.runtime.server`), asks Ray for the
CPUs and GPUs its stages declare (a GPU stage puts the source on a GPU node), and is restarted
by Ray when its process dies (``max_restarts``); the pipeline resumes from the store.

Stages named in ``cluster.remote_stages`` (a GPU stage) run instead in one shared actor per stage
type, placed by that stage's resources, and the source actors and index workers build them as
proxies (:mod:`scenewatch.runtime.cluster_remote`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import BackendUnavailable
from scenewatch.runtime.cluster_chunks import WorkUnit
from scenewatch.runtime.cluster_settings import DEFAULT_STAGE_CPUS, GPU_BACKENDS, StageResources
from scenewatch.runtime.index import UnitResult, UnitRunner
from scenewatch.runtime.server import SourceStatus, is_live

log = logging.getLogger(__name__)

NAMESPACE = "scenewatch"
STATUS_POLL = 1.0
"""Seconds between status polls of a source actor."""


def ray_module() -> Any:
    """The ``ray`` package, or a :class:`BackendUnavailable` naming the extra."""
    try:
        import ray
    except ModuleNotFoundError:
        raise BackendUnavailable("Ray is not installed: pip install 'scenewatch[scale]'") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://head:10001``), or start a local one.

    A local cluster (``address`` ``None`` or ``local``) uses this machine's cores (or ``num_cpus``)
    and no dashboard. Returns the ``ray`` module.
    """
    ray = ray_module()
    if ray.is_initialized():
        return ray
    if address in (None, "", "local"):
        ray.init(num_cpus=num_cpus, include_dashboard=False, namespace=NAMESPACE, log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
    return ray


def stage_resources(config: Config) -> dict[str, StageResources]:
    """What each configured stage asks for: the config's ``cluster.stages`` entry, else a default.

    A stage whose backend is a full-tier model (SAM 3, TrOCR, HF Whisper, Qwen2-Audio) or that is
    set to run on CUDA asks for one GPU; default-tier stages ask for the cores they keep busy.
    """
    p = config.perception
    backends = {"objects": (p.detect.backend, p.detect.tracker), "text": (p.ocr.backend,),
                "speech": (p.asr.backend, "cuda" if p.asr.device.startswith("cuda") else "")}
    out: dict[str, StageResources] = {}
    for name in dict.fromkeys(p.stages):
        if name in config.cluster.stages:
            out[name] = config.cluster.stages[name]
            continue
        gpu = any(b in GPU_BACKENDS or b == "cuda" for b in backends.get(name, ()))
        out[name] = StageResources(num_cpus=DEFAULT_STAGE_CPUS.get(name, 0.5), num_gpus=1.0 if gpu else 0.0)
    return out


def remote_stage_names(config: Config) -> list[str]:
    """The configured stages that run in their own stage actor (``cluster.remote_stages``; ``gpu``: GPU stages)."""
    wanted = set(config.cluster.remote_stages)
    return [name for name, r in stage_resources(config).items()
            if name in wanted or ("gpu" in wanted and r.num_gpus > 0)]


def source_resources(config: Config) -> tuple[float, float]:
    """``(num_cpus, num_gpus)`` of one source's actor: decoding (half a core) plus its local stages.

    Stages share the actor's process, so GPUs are the most any one stage asks for (they share it).
    A remote stage (:mod:`scenewatch.runtime.cluster_remote`) asks for its own actor instead.
    """
    remote = set(remote_stage_names(config))
    res = [r for name, r in stage_resources(config).items() if name not in remote]
    return 0.5 + sum(r.num_cpus for r in res), max((r.num_gpus for r in res), default=0.0)


# ---------------------------------------------------------------------------- indexing
class IndexWorker:
    """The body of an index worker actor: one runner, reused for every unit this process gets."""

    def __init__(self, config: Config) -> None:
        from scenewatch.runtime.cluster_remote import install_proxies

        install_proxies(config)  # this process builds remote stages as proxies to their actors
        self.runner = UnitRunner(config)

    def run(self, unit: WorkUnit) -> UnitResult:
        """Perceive one unit and return its rows."""
        return self.runner.run(unit)

    def where(self) -> str:
        """``host:pid`` of this worker."""
        return self.runner.worker


class RayExecutor:
    """Runs index units on a pool of Ray actors, a bounded number in flight.

    Args:
        config: the configuration (its ``cluster`` section sizes the pool).
        address: the cluster (overrides ``cluster.address``; ``None``/``local``: start one here).
        workers: actors to start (default ``cluster.workers``, else cluster CPUs / ``worker_cpus``).
        stop: set to stop submitting; units in flight finish.
    """

    def __init__(self, config: Config, address: str | None = None, workers: int | None = None,
                 stop: threading.Event | None = None) -> None:
        self.config = config
        self.address = address if address is not None else config.cluster.address
        self.workers = workers or config.cluster.workers
        self.stop = stop or threading.Event()
        self.run_id = uuid.uuid4().hex[:6]
        self.names: list[str] = []  # current actor names (tests kill one by name)
        self.replaced = 0

    def _gpus(self) -> float:
        return source_resources(self.config)[1]

    def run(self, units: Iterable[WorkUnit], on_start: Callable[[WorkUnit, str], None] | None = None
            ) -> Iterator[UnitResult]:
        """Run every unit on the pool; yield results as they finish (a lost unit runs again)."""
        ray = connect(self.address)
        cs = self.config.cluster
        todo = deque(units)
        if not todo:
            return
        count = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cs.worker_cpus))
        count = min(count, len(todo))
        from scenewatch.runtime.cluster_remote import ensure_stage_actors, stop_stage_actors

        stage_actors = ensure_stage_actors(self.config)  # remote stages: one actor each, owned here
        remote = ray.remote(IndexWorker)
        options = {"num_cpus": cs.worker_cpus, "num_gpus": self._gpus(), "max_restarts": cs.max_restarts,
                   "max_task_retries": 0}
        actors: list[Any] = []
        generation = Counter[int]()

        def spawn(i: int) -> Any:
            name = f"scenewatch-index-{self.run_id}-{i}-{generation[i]}"
            generation[i] += 1
            actor = remote.options(name=name, **options).remote(self.config)
            if i < len(actors):
                actors[i], self.names[i] = actor, name
            else:
                actors.append(actor)
                self.names.append(name)
            return actor

        for i in range(count):
            spawn(i)
        limit = cs.max_in_flight or 2 * count
        in_flight: dict[Any, tuple[WorkUnit, int, Any]] = {}
        tries = Counter[WorkUnit]()
        try:
            while todo or in_flight:
                while todo and len(in_flight) < limit and not self.stop.is_set():
                    load = Counter(i for _, i, _ in in_flight.values())
                    i = min(range(count), key=lambda j: load[j])
                    unit = todo.popleft()
                    in_flight[actors[i].run.remote(unit)] = (unit, i, actors[i])
                    if on_start is not None:
                        on_start(unit, self.names[i])
                if not in_flight:
                    break  # stopped
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                for ref in ready:
                    unit, i, actor = in_flight.pop(ref)
                    result = self._collect(ray, ref, unit, tries)
                    if result is None:  # the actor died: a fresh one takes the unit again
                        if actors[i] is actor:  # not yet replaced (it may have had several units)
                            self._retire(ray, actor)
                            spawn(i)
                            self.replaced += 1
                        todo.appendleft(unit)
                        continue
                    yield result
        finally:
            for actor in actors:
                self._retire(ray, actor)
            stop_stage_actors(stage_actors)

    def _collect(self, ray: Any, ref: Any, unit: WorkUnit, tries: Counter[WorkUnit]) -> UnitResult | None:
        """The unit's result; ``None`` when its actor was lost (and it may run again)."""
        try:
            result: UnitResult = ray.get(ref)
            return result
        except ray.exceptions.RayTaskError as exc:  # the unit itself raised: report, do not retry
            return UnitResult(unit, None, error=f"{type(exc.cause).__name__}: {exc.cause}" if exc.cause else str(exc))
        except ray.exceptions.RayError as exc:
            tries[unit] += 1
            if tries[unit] > self.config.cluster.unit_retries:
                return UnitResult(unit, None, error=f"worker lost {tries[unit]} times: {exc}")
            log.warning("worker lost while indexing %s (%s); running it again", unit.name, type(exc).__name__)
            return None

    @staticmethod
    def _retire(ray: Any, actor: Any) -> None:
        with contextlib.suppress(Exception):  # already gone
            ray.kill(actor, no_restart=True)


# ----------------------------------------------------------------------------- serving
class SourceActor:
    """The body of a live source's actor: the same worker loop ``serve`` runs in a thread."""

    def __init__(self, uri: str, config: Config) -> None:
        import os
        import socket

        import ray

        from scenewatch.runtime.cluster_remote import install_proxies
        from scenewatch.runtime.server import _Worker

        ctx = ray.get_runtime_context()
        self.restarted = bool(getattr(ctx, "was_current_actor_reconstructed", False))
        self.where = {"node": ctx.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                      "actor_id": ctx.get_actor_id(), "resources": dict(ctx.get_assigned_resources())}
        self.remote = bool(install_proxies(config))  # remote stages become proxies to their actors
        self.worker = _Worker(uri, config)
        self.worker.thread.start()

    def status(self) -> dict[str, Any]:
        """The worker's status, and where it runs (and its remote stages' actors)."""
        actor: dict[str, Any] = {**self.where, "restarted": self.restarted}
        if self.remote:
            from scenewatch.runtime.cluster_remote import remote_status

            actor["remote_stages"] = remote_status()
        return {**self.worker.status.to_json(), "actor": actor}

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop watching and wait until what is in hand is committed; returns whether it ended."""
        self.worker.stop.set()
        self.worker.thread.join(timeout)
        return not self.worker.thread.is_alive()


class RaySourceWorker:
    """A served source whose pipeline runs in a Ray actor; the same face as a local worker thread.

    ``thread`` here only creates the actor and polls its status into :attr:`status`; setting
    ``stop`` stops the actor's run, waits for its commit and ends the actor.
    """

    def __init__(self, uri: str, config: Config, address: str | None = None) -> None:
        self.uri = uri
        self.config = config
        self.address = address
        self.stop = threading.Event()
        self.status = SourceStatus(uri=uri, live=is_live(uri))
        self.actor: Any = None
        self.thread = threading.Thread(target=self._loop, name=f"ray:{uri[-40:]}", daemon=True)

    def _loop(self) -> None:
        try:
            ray = connect(self.address)
            from scenewatch.runtime.cluster_remote import ensure_stage_actors

            ensure_stage_actors(self.config)  # owned by this driver, shared by every source
            cpus, gpus = source_resources(self.config)
            name = f"scenewatch-source-{uuid.uuid4().hex[:8]}"
            self.actor = ray.remote(SourceActor).options(
                name=name, num_cpus=cpus, num_gpus=gpus, max_restarts=self.config.cluster.max_restarts,
                max_task_retries=-1).remote(self.uri, self.config)
            self.status.actor = {"name": name, "num_cpus": cpus, "num_gpus": gpus, "state": "pending"}
        except Exception as exc:
            self.status.state, self.status.last_error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("cannot start an actor for %s", self.uri)
            return
        restarts = 0
        while not self.stop.wait(STATUS_POLL):
            try:
                got = ray.get(self.actor.status.remote(), timeout=10)
            except ray.exceptions.GetTimeoutError:
                self.status.actor = {**(self.status.actor or {}), "state": "unresponsive"}
                continue
            except ray.exceptions.RayError as exc:  # dead for good (restarts used up), or restarting
                self.status.actor = {**(self.status.actor or {}), "state": "restarting"}
                self.status.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                self.status.state = "restarting"
                continue
            actor = got.pop("actor")
            if actor.get("restarted") and actor.get("pid") != (self.status.actor or {}).get("pid"):
                restarts += 1
            for key, value in got.items():
                if key not in ("uri", "live") and hasattr(self.status, key):
                    setattr(self.status, key, value)
            self.status.actor = {**(self.status.actor or {}), **actor, "state": "alive", "actor_restarts": restarts}
        self._stop_actor(ray)

    def _stop_actor(self, ray: Any) -> None:
        try:
            ray.get(self.actor.stop.remote(), timeout=60)
        except Exception as exc:
            log.warning("actor for %s did not stop cleanly: %s", self.uri, exc)
        with contextlib.suppress(Exception):  # already gone
            ray.kill(self.actor, no_restart=True)
        self.status.state = "stopped"
        self.status.actor = {**(self.status.actor or {}), "state": "stopped"}


def ray_worker_factory(address: str | None) -> Callable[[str, Config], RaySourceWorker]:
    """A worker factory for :class:`~scenewatch.runtime.server.SourceManager` that runs sources on Ray.

    Connects now (``None``: a local cluster), from the calling thread, so Ray installs its
    signal handlers in the main thread.
    """
    connect(address)

    def build(uri: str, config: Config) -> RaySourceWorker:
        return RaySourceWorker(uri, config, address)

    return build
