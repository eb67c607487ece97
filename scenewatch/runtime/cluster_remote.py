"""Perception stages in their own Ray actors: a GPU stage on a GPU node, decoding near the camera.

A stage named in ``cluster.remote_stages`` runs in one named actor per stage type
(``scenewatch-stage-<name>``), shared by every source actor and index worker of the cluster and
placed by the stage's declared resources (``num_gpus``, and custom labels such as
``{gpu_node: 1}``). The actor holds one instance of the stage per *session* (a source, or an
index unit), built by the same stage registry the pipeline uses, so each keeps its own tracker.

Where a source runs, :class:`RemoteStage` stands in for the stage: it satisfies the
:class:`~scenewatch.perception.stage.Stage` protocol, ships each keyframe or audio chunk through
Ray's object store and returns the very :class:`~scenewatch.perception.stage.Emit` values the stage
returned, so the runner's resume points, span keys and row keys behave as with a local stage.
The objects stage's detections (read by the text stage on the same keyframe) travel back too.

A lost stage actor (node gone, OOM, ``ray.kill``) is restarted by Ray; the proxy then rebuilds
its session by replaying the inputs it kept (``cluster.remote_replay``, as object references) and
discarding what they emit again, so nothing is lost or said twice. This assumes the stage is
deterministic on the same inputs (our CPU backends are). A session older than the replay limit
cannot be rebuilt: the stage then fails for that run, keeps its watermark, and the next run of
the source resumes it from the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError
from scenewatch.perception.registry import STAGES
from scenewatch.perception.stage import Emit, KeyframeShared, Stage, StageContext, StageInput
from scenewatch.runtime.cluster_settings import ClusterSettings, StageResources
from scenewatch.types import AudioChunk, Detections, Keyframe

log = logging.getLogger(__name__)

ACTOR_PREFIX = "scenewatch-stage-"
RETRIES = 5
"""Times one call is tried again after the stage actor was lost or timed out."""


class StageLost(ScenewatchError):
    """A remote stage's actor was lost and its session could not be rebuilt."""


@dataclass(frozen=True, slots=True)
class _Call:
    kind: Literal["keyframe", "audio"]
    item: Keyframe | AudioChunk
    detections: Detections | None = None  # what earlier stages on this keyframe left in KeyframeShared


@dataclass(frozen=True, slots=True)
class _Reply:
    emits: list[Emit]
    detections: Detections | None
    resume_point: float | None


_ORIGINALS: dict[str, type] = {}  # stage classes a proxy replaced in this process's registry


def _real_stage(name: str) -> type:
    cls = STAGES.get(name)
    return _ORIGINALS.get(name, cls) if issubclass(cls, RemoteStage) else cls


def actor_name(stage: str) -> str:
    """The Ray name of a stage's actor."""
    return f"{ACTOR_PREFIX}{stage}"


def _run(stage: Stage, call: _Call) -> _Reply:
    if call.kind == "audio":
        assert isinstance(call.item, AudioChunk)
        emits = stage.on_audio(call.item)
        return _Reply(emits, call.detections, stage.resume_point())
    assert isinstance(call.item, Keyframe)
    shared = KeyframeShared(call.detections)
    emits = stage.on_keyframe(call.item, shared)
    return _Reply(emits, shared.detections, stage.resume_point())


# ------------------------------------------------------------------------------ the actor
class StageHost:
    """The body of a stage actor: one stage instance per session, built by the stage registry.

    Calls of one session come one at a time, in order (``seq``); sessions run concurrently
    (a threaded actor), sharing the models the stage caches per process.
    """

    def __init__(self, name: str) -> None:
        import ray

        ctx = ray.get_runtime_context()
        self.name = name
        self.sessions: dict[str, Stage] = {}
        self.seq: dict[str, int] = {}
        self.calls = 0
        self.lock = threading.Lock()
        self.where = {"node": ctx.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                      "restarted": bool(getattr(ctx, "was_current_actor_reconstructed", False)),
                      "resources": dict(ctx.get_assigned_resources())}

    def open(self, session: str, ctx: StageContext, replay: list[Any]) -> int:
        """Build the session's stage and feed it the kept inputs (their emits were delivered before)."""
        import ray

        stage: Stage = _real_stage(self.name)(ctx)
        for ref in replay:
            _run(stage, ray.get(ref))
        with self.lock:
            self.sessions[session] = stage
            self.seq[session] = len(replay)
        return len(replay)

    def process(self, session: str, seq: int, call: _Call) -> _Reply | None:
        """Run call number ``seq`` of a session; ``None`` when this actor does not hold it at that point."""
        stage = self.sessions.get(session)
        if stage is None or self.seq.get(session) != seq:
            return None
        reply = _run(stage, call)
        with self.lock:
            self.seq[session] = seq + 1
            self.calls += 1
        return reply

    def close(self, session: str, seq: int) -> list[Emit] | None:
        """The session's source ended: finalise its stage and forget it (``None``: not held)."""
        stage = self.sessions.get(session)
        if stage is None or self.seq.get(session) != seq:
            return None
        emits = stage.close()
        self.drop(session)
        return emits

    def drop(self, session: str) -> None:
        """Forget a session (its proxy gave up on it)."""
        with self.lock:
            self.sessions.pop(session, None)
            self.seq.pop(session, None)

    def status(self) -> dict[str, Any]:
        """Where it runs, what it was given, how busy it is."""
        return {**self.where, "stage": self.name, "sessions": len(self.sessions), "calls": self.calls}


_HANDLES: dict[str, Any] = {}
"""Stage actor handles held by this process: a named actor that no handle refers to is ended by Ray."""


def ensure_stage_actor(ray: Any, name: str, resources: StageResources, cluster: ClusterSettings,
                       fresh: bool = False) -> Any:
    """The stage's actor: the one held, else the running one, else a new one with the stage's resources.

    ``fresh``: look it up again by name (the held one died for good). The handle that created the
    actor is kept while it lives: Ray ends a named actor once its creating handle is dropped.
    """
    from scenewatch.runtime.cluster import NAMESPACE

    handle = _HANDLES.get(name)
    if handle is not None and not fresh:
        return handle
    try:
        handle = ray.get_actor(actor_name(name), namespace=NAMESPACE)
    except ValueError:  # not there (never started, or dead for good)
        handle = ray.remote(StageHost).options(
            name=actor_name(name), namespace=NAMESPACE, get_if_exists=True, num_cpus=resources.num_cpus,
            num_gpus=resources.num_gpus, resources=dict(resources.resources) or None,
            max_restarts=cluster.max_restarts, max_task_retries=0, max_concurrency=cluster.remote_concurrency,
        ).remote(name)
    _HANDLES[name] = handle
    return handle


def ensure_stage_actors(config: Config) -> list[str]:
    """Start the actors of the config's remote stages from this process (the driver owns them)."""
    from scenewatch.runtime.cluster import connect, remote_stage_names, stage_resources

    names = remote_stage_names(config)
    if names:
        ray = connect(config.cluster.address)
        res = stage_resources(config)
        for name in names:
            ensure_stage_actor(ray, name, res[name], config.cluster)
    return names


def stop_stage_actors(names: list[str]) -> None:
    """End the named stage actors (the driver is done with them)."""
    import ray

    from scenewatch.runtime.cluster import NAMESPACE

    for name in names:
        _HANDLES.pop(name, None)
        try:
            ray.kill(ray.get_actor(actor_name(name), namespace=NAMESPACE), no_restart=True)
        except Exception:  # already gone
            log.debug("stage actor %s already gone", name)


# ------------------------------------------------------------------------------ the proxy
_SEEN: dict[str, Counter[str]] = {}  # per remote stage used in this process: calls, sessions rebuilt
_ERRORS: dict[str, str] = {}  # per remote stage: the last error a proxy met
_MEDIA_TIME: dict[str, float] = {}  # per remote stage: media time of the last input answered


class RemoteStage:
    """Stands in for a stage that runs in its stage actor; built like the stage, as ``cls(ctx)``.

    Subclasses made by :func:`install_proxies` set :attr:`name`, :attr:`inputs`, the stage's
    :attr:`declared` resources and the :attr:`cluster` settings.
    """

    name: ClassVar[str] = "remote"
    inputs: ClassVar[frozenset[StageInput]] = frozenset()
    declared: ClassVar[StageResources] = StageResources()
    cluster: ClassVar[ClusterSettings] = ClusterSettings()

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.session: str | None = None  # opened on the first call
        self.seq = 0  # calls answered
        self.kept: list[Any] = []  # object refs of every call so far, while replayable
        self.replayable = True
        self.rebuilt = 0  # sessions rebuilt after the actor was lost or timed out
        self.last_error = ""
        self._resume: float | None = None
        self._seen = _SEEN.setdefault(self.name, Counter())

    # Stage protocol
    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Run the keyframe on the stage actor; its detections come back into ``shared``."""
        reply = self._call(_Call("keyframe", keyframe, shared.detections))
        shared.detections = reply.detections
        return reply.emits

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Run the chunk on the stage actor."""
        return self._call(_Call("audio", chunk)).emits

    def resume_point(self) -> float | None:
        """What the remote stage answered after the last call."""
        return self._resume

    def close(self) -> list[Emit]:
        """Finalise the remote stage's open spans and end the session."""
        if self.session is None and self.seq == 0:
            return []
        emits: list[Emit] = self._retrying(lambda ray, actor: actor.close.remote(self.session, self.seq))
        self.kept.clear()
        self.session = None  # the actor forgot it
        return emits

    # internals
    def _call(self, call: _Call) -> _Reply:
        import ray

        ref = ray.put(call)
        reply: _Reply = self._retrying(lambda ray, actor: actor.process.remote(self.session, self.seq, ref))
        self.seq += 1
        self._seen["calls"] += 1
        _MEDIA_TIME[self.name] = call.item.frame.pts if isinstance(call.item, Keyframe) else call.item.end
        self._resume = reply.resume_point
        if self.replayable and len(self.kept) < self.cluster.remote_replay:
            self.kept.append(ref)
        else:
            self.replayable = False
            self.kept.clear()
        return reply

    def _retrying(self, submit: Any) -> Any:
        """Submit on the actor's session, rebuilding the session when the actor lost it."""
        from scenewatch.runtime.cluster import connect

        ray = connect(self.cluster.address)
        lost = False
        for attempt in range(RETRIES + 1):
            try:
                actor = ensure_stage_actor(ray, self.name, self.declared, self.cluster, fresh=lost)
                if self.session is None:
                    self._open(ray, actor)
                got = ray.get(submit(ray, actor), timeout=self.cluster.remote_timeout)
                if got is not None:
                    return got
                self.last_error = "session lost (actor restarted)"
            except ray.exceptions.RayTaskError:  # the stage itself raised: it fails here as it would locally
                self._abandon(actor)
                self.session = None
                raise
            except ray.exceptions.GetTimeoutError:
                self.last_error = f"no answer in {self.cluster.remote_timeout:g} s"
                self._abandon(actor)
            except ray.exceptions.RayActorError as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                lost = isinstance(exc, ray.exceptions.ActorDiedError)  # for good: start a new one
            except ray.exceptions.ObjectLostError as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            log.warning("remote stage %s: %s; rebuilding its session", self.name, self.last_error)
            _ERRORS[self.name] = self.last_error
            self.session = None
            time.sleep(min(5.0, 0.5 * 2**attempt))  # Ray restarts the actor meanwhile
        raise StageLost(f"remote stage {self.name} lost: {self.last_error}")

    def _open(self, ray: Any, actor: Any) -> None:
        if self.seq and not self.replayable:
            raise StageLost(f"remote stage {self.name} lost after {self.seq} inputs (more than "
                            f"cluster.remote_replay={self.cluster.remote_replay}); the next run resumes it")
        session = uuid.uuid4().hex
        timeout = self.cluster.remote_timeout * (1 + len(self.kept))  # the replay runs every kept input
        ray.get(actor.open.remote(session, self.ctx, list(self.kept)), timeout=timeout)
        if self.seq:
            self.rebuilt += 1
            self._seen["rebuilt"] += 1
        self.session = session

    def __del__(self) -> None:
        # A run stopped before the end never closes its stages: free the session on the actor.
        actor = _HANDLES.get(self.name)
        if self.session is not None and actor is not None:
            with contextlib.suppress(Exception):  # Ray already shut down
                actor.drop.remote(self.session)

    def _abandon(self, actor: Any) -> None:
        if self.session is not None:
            actor.drop.remote(self.session)  # it may still be busy with the late call; a new session replays


def remote_status() -> list[dict[str, Any]]:
    """The remote stages this process uses: their actors and what each proxy saw (for ``/api/workers``)."""
    import ray

    from scenewatch.runtime.cluster import NAMESPACE

    out: list[dict[str, Any]] = []
    for name, seen in sorted(_SEEN.items()):
        entry: dict[str, Any] = {"stage": name, "actor": actor_name(name), "calls": seen["calls"],
                                 "rebuilt": seen["rebuilt"], "last_error": _ERRORS.get(name, ""),
                                 "media_time": _MEDIA_TIME.get(name)}
        try:
            got: Any = ray.get(ray.get_actor(actor_name(name), namespace=NAMESPACE).status.remote(), timeout=2)
            entry.update(state="alive", node=got["node"], host=got["host"], pid=got["pid"],
                         resources=got["resources"], sessions=got["sessions"], actor_calls=got["calls"],
                         restarted=got["restarted"])
        except Exception as exc:  # restarting, or gone
            entry.update(state="unreachable", last_error=entry["last_error"] or type(exc).__name__)
        out.append(entry)
    return out


def install_proxies(config: Config) -> dict[str, type]:
    """In this process, make the stage registry build the config's remote stages as proxies.

    Called in a source actor or index worker (a process of its own), so the pipeline builds its
    stages as usual (track checks, missing extras) and the remote ones become :class:`RemoteStage`.
    Returns the classes replaced, for :func:`uninstall_proxies`.
    """
    from scenewatch.runtime.cluster import remote_stage_names, stage_resources

    res = stage_resources(config)
    replaced: dict[str, type] = {}
    for name in remote_stage_names(config):
        current = STAGES.get(name)
        real = _ORIGINALS.get(name, current) if issubclass(current, RemoteStage) else current
        _ORIGINALS[name] = real
        replaced.setdefault(name, current)
        proxy = type(f"Remote{name.title()}Stage", (RemoteStage,),
                     {"name": name, "inputs": getattr(real, "inputs", frozenset()), "declared": res[name],
                      "cluster": config.cluster})
        STAGES.register(name, proxy)
    return replaced


def uninstall_proxies(replaced: dict[str, type]) -> None:
    """Put back the stage classes :func:`install_proxies` replaced."""
    for name, cls in replaced.items():
        STAGES.register(name, cls)
