"""The pipeline runner: source → keyframe sampler → registered stages → timeline store.

All concurrency lives here. One decode thread reads the source, samples keyframes and feeds
two bounded queues; a vision worker runs the keyframe stages in configured order (so OCR
sees the detector's boxes), an audio worker runs the audio stages, and the calling thread is
the single store writer. Bounded queues give back-pressure: a file is never dropped from
(decode waits), a live source drops keyframes when stages fall behind.

Nothing lost, nothing twice: each stage's watermark is what it has fully emitted (its
:meth:`~scenewatch.perception.stage.Stage.resume_point`), committed in one transaction with
its rows; rows carry idempotent keys, so a re-run upserts; spans still open when a run ended
are continued on resume (:mod:`scenewatch.runtime.resume`). A lease lock keeps a second
writer off a source. Setting ``stop`` ends decoding, lets the item in hand finish, commits and
leaves the source ``stopped`` within seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import BackendUnavailable, ScenewatchError, SourceError
from scenewatch.ingest.keyframes import KeyframeSampler
from scenewatch.ingest.sources import Gap, MediaSource, VideoItem, list_sources
from scenewatch.memory.store import StageProgress, TimelineStore
from scenewatch.perception.registry import STAGES
from scenewatch.perception.settings import PerceptionSettings
from scenewatch.perception.stage import Emit, KeyframeShared, Stage, StageContext
from scenewatch.runtime.resume import ResumePlan, RowJoiner, file_fingerprint, plan_resume
from scenewatch.types import AudioChunk, Keyframe, Observation

log = logging.getLogger(__name__)

_DONE = object()
_INF = float("inf")
LOCK_LEASE = 60.0
"""Seconds a source lock outlives its last renewal (a crashed run blocks the source this long)."""
SOURCE_STAGE = "source"
"""Pseudo-stage of rows the runner itself writes (stream gaps)."""
SWITCH_INTERVAL = 0.001
"""Seconds a Python thread may hold the GIL while another waits for it, during a run.

The decoder gives the GIL up inside FFmpeg several times per frame; with the default 5 ms each
time it wants it back it waits for a busy stage thread to yield, which made decoding of a 25 fps
source several times slower inside a run than alone. 1 ms bounds that wait; stage threads spend
their time in native code that releases the GIL, so the extra switching costs them little."""
_switching = threading.Lock()
_switch_users = [0, 0.005]  # runs in progress, the interval before the first of them


@dataclass(slots=True)
class Progress:
    """A progress report for surfaces (CLI bar, API events)."""

    source_id: str
    uri: str
    media_time: float
    duration: float | None
    keyframes: int = 0
    observations: int = 0
    dropped: int = 0
    status: str = "running"


@dataclass(slots=True)
class RunSummary:
    """What one source's run did."""

    source_id: str
    uri: str
    status: str
    media_time: float = 0.0
    resumed_from: float = 0.0
    frames: int = 0
    keyframes: int = 0
    audio_seconds: float = 0.0
    observations: int = 0
    events: int = 0
    dropped_keyframes: int = 0
    gaps: int = 0
    wall_seconds: float = 0.0
    stages: list[str] = field(default_factory=list)
    skipped_stages: dict[str, str] = field(default_factory=dict)
    done_stages: list[str] = field(default_factory=list)
    error: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds each stage spent on its inputs (``decode``: the decode thread, sampling included)."""
    stage_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the calling thread in each stage (a model's own pool threads are not counted)."""


@dataclass(slots=True)
class _Batch:
    emits: list[tuple[str, Emit]]
    marks: dict[str, float]  # stage -> everything before this media time is emitted
    final: bool = False  # the lane's last batch


ObservationHook = Callable[[list[Observation]], int]


def bounded_threads(settings: PerceptionSettings, cores: int | None = None) -> PerceptionSettings:
    """Perception settings whose thread pools are capped for this machine.

    onnxruntime and FFmpeg size their pools by the core count when left to themselves: several
    models × cores threads each (hundreds on a big server), most of them idle and all of them
    competing. The runner already runs decoding, vision and audio in parallel, so the detector
    and the text reader get one intra-op thread per two cores, at most two: on a 2-core box one
    thread each, since there the lanes alone keep both cores busy and handing each operator to a
    second pool thread only adds wake-ups (measured on the quiet and busy benchmark clips, 10–11 %
    less CPU). Thread counts set explicitly in the config are kept.
    """
    cap = max(1, min(2, (cores or os.cpu_count() or 1) // 2))
    update: dict[str, Any] = {}
    if settings.ocr.threads is None:
        update["ocr"] = settings.ocr.model_copy(update={"threads": cap})
    if "threads" not in settings.detect.model_fields_set:
        update["detect"] = settings.detect.model_copy(update={"threads": min(cap, settings.detect.threads)})
    return settings.model_copy(update=update) if update else settings


def split_keyframe_lane(stages: Sequence[Stage], cores: int | None = None) -> tuple[list[Stage], list[Stage]]:
    """The keyframe stages as two pipelined lanes: through the last stage that shares what it
    found on a keyframe (``writes_shared``: the objects stage's detections), then the stages after it.

    The second lane works on keyframe *k* (with what the first shared on it) while the first is
    on *k* + 1, so on busy footage detection and reading use both cores instead of one; every
    stage still sees its keyframes in order. One lane when nothing follows such a stage, or on
    one core.
    """
    stages = list(stages)
    last = max((i for i, s in enumerate(stages) if getattr(s, "writes_shared", False)), default=-1)
    if last < 0 or last == len(stages) - 1 or (cores or os.cpu_count() or 1) < 2:
        return stages, []
    return stages[: last + 1], stages[last + 1:]


class Pipeline:
    """Runs the perception loop over sources and writes the timeline.

    Args:
        config: validated config.
        store: open timeline store (the pipeline is its only writer while running).
        on_progress: called from the writer thread with :class:`Progress` reports.
        on_observations: called after each commit with the rows inserted or updated; returns
            how many events it fired (the trigger engine plugs in here).
        stop: set to stop cleanly (Ctrl-C, ``--until`` on live sources, API cancel).
        stages: prebuilt stages to use instead of building them from the registry by name
            (file commands pass a detector/reader they already built).
        on_resume: called with a source id before its stages run, once rows past the
            watermarks are gone (the trigger engine rebuilds its state from the stored rows);
            returns how many events it fired.
    """

    def __init__(
        self,
        config: Config,
        store: TimelineStore,
        on_progress: Callable[[Progress], None] | None = None,
        on_observations: ObservationHook | None = None,
        stop: threading.Event | None = None,
        stages: Callable[[StageContext], list[Stage]] | None = None,
        on_resume: Callable[[str], int] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_progress = on_progress
        self.on_observations = on_observations
        self.stop = stop or threading.Event()
        self.stage_factory = stages
        self.on_resume = on_resume
        self.summaries: list[RunSummary] = []  # of the current/last run, also when it raised
        _bound_malloc()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # ------------------------------------------------------------------ public
    def run(self, uri: str, until: float | None = None, restart: bool = False) -> list[RunSummary]:
        """Ingest a file, folder, URL or device; return one summary per source.

        A folder's files are opened one at a time: a file that cannot be opened or decoded is
        reported (status ``failed`` with the reason) and the rest are still ingested. A single
        file, URL or device that fails raises.

        Args:
            uri: what to watch.
            until: stop after this many media seconds (per source).
            restart: forget earlier progress and ingest from the start.
        """
        self.summaries = []
        uris = list_sources(uri, self.config.ingest)
        if len(uris) == 1 and not Path(uri).expanduser().is_dir():
            self.run_source(self._open(uris[0]), until=until, restart=restart)
            return list(self.summaries)
        for one in uris:
            if self.stop.is_set():
                break
            known = len(self.summaries)
            try:
                self.run_source(self._open(one), until=until, restart=restart)
            except ScenewatchError as exc:
                log.info("%s skipped: %s", one, exc)  # reported in its summary
                if len(self.summaries) == known:
                    self.summaries.append(RunSummary(source_id="", uri=one, status="failed"))
                self.summaries[-1].status, self.summaries[-1].error = "failed", str(exc)
        return list(self.summaries)

    def _open(self, uri: str) -> MediaSource:
        return MediaSource(uri, self.config.ingest, self.stop)

    def run_source(self, source: MediaSource, until: float | None = None, restart: bool = False) -> RunSummary:
        """Ingest one opened source (resuming each stage where it stopped)."""
        info = source.info
        summary = RunSummary(info.id, info.uri, "running")
        self.summaries.append(summary)
        try:
            self.store.upsert_source(info)
            self.store.acquire_source_lock(info.id, self._owner, LOCK_LEASE, gone=_holder_gone)
        except BaseException:
            source.close()
            raise
        try:
            return self._run_locked(source, summary, until, restart)
        finally:
            source.close()
            self.store.release_source_lock(info.id, self._owner)

    # ---------------------------------------------------------------- internals
    def _run_locked(self, source: MediaSource, summary: RunSummary, until: float | None,
                    restart: bool) -> RunSummary:
        info = source.info
        fingerprint = file_fingerprint(info.uri) if source.kind == "file" else None
        requested = list(dict.fromkeys(self.config.perception.stages))
        plan = plan_resume(self.store, info.id, source.kind, requested, fingerprint, restart)
        summary.done_stages = list(plan.done)
        if plan.changed:
            log.info("%s changed since it was ingested (%s): resuming", info.uri, plan.changed)
        if not plan.run:
            summary.status = "already done"
            summary.media_time = summary.resumed_from = self.store.source_progress(info.id)[0]
            return summary
        stages, skipped = self._build_stages(source, list(plan.run))
        summary.stages = [s.name for s in stages]
        summary.skipped_stages = skipped
        no_track = {n: StageProgress(info.duration or 0.0, "done") for n, why in skipped.items()
                    if why.startswith("no ")}
        if no_track:
            self.store.set_stage_progress(info.id, no_track)
        resume = {s.name: plan.run[s.name] for s in stages}
        if not stages:
            summary.status = "already done" if not skipped or no_track else "stopped"
            return summary
        for name, t in resume.items():
            self.store.reset_stage(info.id, name, after=t)
        self.store.set_source_fingerprint(info.id, fingerprint)
        summary.resumed_from = min(resume.values())
        if self.on_resume is not None:
            summary.events += self.on_resume(info.id)
        self.store.set_source_status(info.id, "running")
        self.store.renew_source_lock(info.id, self._owner, LOCK_LEASE)  # building models may take a while
        started = time.monotonic()
        try:
            eof = self._execute(source, stages, summary, resume, plan, until)
        except ScenewatchError as exc:
            summary.status, summary.error = "failed", str(exc)
            self.store.set_source_status(info.id, "failed", str(exc))
            raise
        finally:
            summary.wall_seconds = time.monotonic() - started
        # A stage that failed keeps its own status and watermark and is retried by the next run.
        summary.status = "done" if eof else "stopped"
        self.store.set_source_status(info.id, summary.status)
        return summary

    def _build_stages(self, source: MediaSource, names: list[str]) -> tuple[list[Stage], dict[str, str]]:
        info = source.info
        media_dir = self.config.store.resolved_media_dir() / info.id
        ctx = StageContext(bounded_threads(self.config.perception), info, media_dir, tuple(self.config.concepts))
        if self.stage_factory is not None:
            return [s for s in self.stage_factory(ctx) if s.name in names], {}
        stages: list[Stage] = []
        skipped: dict[str, str] = {}
        for name in names:
            cls = STAGES.get(name)
            inputs: frozenset[str] = getattr(cls, "inputs", frozenset())
            if ("keyframe" in inputs and not info.has_video) and ("audio" not in inputs or not info.has_audio):
                skipped[name] = "no video track"
                continue
            if ("audio" in inputs and not info.has_audio) and ("keyframe" not in inputs or not info.has_video):
                skipped[name] = "no audio track"
                continue
            try:
                stages.append(cls(ctx))
            except BackendUnavailable as exc:
                skipped[name] = str(exc)
                log.warning("stage %s skipped: %s", name, exc)
        if self.config.perception.faces.enabled:  # known faces: match against the people enrolled in this store
            from scenewatch.runtime.people_service import StoreFaceBook

            book = StoreFaceBook(self.store, self.config)
            for stage in stages:
                attach = getattr(stage, "attach_face_book", None)
                if attach is not None:
                    attach(book)
        return stages, skipped

    def _execute(self, source: MediaSource, stages: list[Stage], summary: RunSummary, resume: dict[str, float],
                 plan: ResumePlan, until: float | None) -> bool:
        """Run the threads over one source; return whether it was read to its end."""
        info = source.info
        qsize = self.config.runtime.queue_size
        drop = self.config.runtime.drop_when_behind
        drop = source.kind != "file" if drop is None else drop
        video_stages = [s for s in stages if "keyframe" in s.inputs]
        audio_stages = [s for s in stages if "audio" in s.inputs]
        detect_lane, read_lane = split_keyframe_lane(video_stages)
        video_q: queue.Queue[Any] = queue.Queue(qsize)
        read_q: queue.Queue[Any] = queue.Queue(max(2, qsize // 4))  # keyframe + shared, lane 1 → lane 2
        audio_q: queue.Queue[Any] = queue.Queue(qsize)
        out_q: queue.Queue[Any] = queue.Queue(qsize * 4)
        errors: list[BaseException] = []
        counters: dict[str, Any] = {"frames": 0, "keyframes": 0, "dropped": 0, "gaps": 0, "audio": 0.0,
                                    "eof": False}
        decode_from = min(resume.values())
        stop = self.stop
        abort = threading.Event()  # a worker died: decoding must not wait on its queue

        def put(q: queue.Queue[Any], item: Any, droppable: bool) -> None:
            while not stop.is_set() and not abort.is_set():
                try:
                    if droppable and drop:
                        q.put_nowait(item)
                    else:
                        q.put(item, timeout=0.2)
                    return
                except queue.Full:
                    if droppable and drop:
                        counters["dropped"] += 1
                        return

        def put_marker(q: queue.Queue[Any], consumer: threading.Thread) -> None:
            # Always delivered, also once stop is set: the worker drains its queue until it sees it.
            while True:
                try:
                    q.put(_DONE, timeout=0.2)
                    return
                except queue.Full:
                    if not consumer.is_alive():
                        return

        def decode() -> None:
            sampler = KeyframeSampler(self.config.ingest.keyframes, info.width, info.height)
            width = self.config.ingest.keyframes.analysis_width
            began, began_cpu = time.perf_counter(), time.thread_time()
            try:
                for item in source.items(start_at=decode_from):
                    if stop.is_set() or abort.is_set():
                        break
                    t = item.pts if isinstance(item, VideoItem) else item.start
                    if until is not None and t > until:
                        summary.status = "until"
                        break
                    if isinstance(item, VideoItem):
                        counters["frames"] += 1
                        if not video_stages or not sampler.due(item.pts):
                            continue  # too soon after the last keyframe to be one: not even looked at
                        got = sampler.consider(item.thumbnail(width), item.pts)
                        if got is not None:
                            counters["keyframes"] += 1
                            kf = Keyframe(item.to_frame(), got[0], got[1], got[2])
                            put(video_q, kf, droppable=got[0] == "floor")
                    elif isinstance(item, AudioChunk):
                        counters["audio"] += item.duration
                        if audio_stages:
                            put(audio_q, item, droppable=False)
                    elif isinstance(item, Gap):
                        counters["gaps"] += 1
                        sampler.reset()
                        gap = Observation(kind="gap", source_id=info.id, start=item.start, end=item.end,
                                          label="stream gap", text=item.reason, wall_start=item.wall_start)
                        put(out_q, _Batch([(SOURCE_STAGE, Emit(gap))], {}), droppable=False)
                counters["eof"] = summary.status != "until" and not stop.is_set() and not abort.is_set()
            except BaseException as exc:  # surfaced by the writer after shutdown
                errors.append(exc)
            finally:
                summary.stage_seconds["decode"] = time.perf_counter() - began
                summary.stage_cpu["decode"] = time.thread_time() - began_cpu
                put_marker(video_q, workers[0])
                put_marker(audio_q, workers[1])

        def work(q: queue.Queue[Any], lane_stages: Sequence[Stage], forward: queue.Queue[Any] | None = None,
                 consumer: list[threading.Thread] | None = None) -> None:
            failed: set[str] = set()
            try:
                while True:
                    item = q.get()
                    if item is _DONE:
                        break
                    if stop.is_set():
                        continue  # drain: what is queued is not processed, so no watermark covers it
                    shared: KeyframeShared | None = None
                    if isinstance(item, tuple):  # (keyframe, what the first keyframe lane shared)
                        item, shared = item
                    elif isinstance(item, Keyframe):
                        shared = KeyframeShared()
                    out_q.put(self._process(item, lane_stages, resume, failed, summary, shared))
                    if forward is not None:
                        put(forward, (item, shared), droppable=False)
                closing: list[tuple[str, Emit]] = []
                marks: dict[str, float] = {}
                if counters["eof"]:  # the whole source was read: finalise open spans and windows
                    for stage in lane_stages:
                        if stage.name in failed:
                            continue
                        began, began_cpu = time.perf_counter(), time.thread_time()
                        try:
                            closing.extend((stage.name, e) for e in stage.close())
                            marks[stage.name] = _INF
                        except Exception as exc:
                            summary.skipped_stages[stage.name] = f"failed at close: {exc}"
                            log.exception("stage %s failed at close", stage.name)
                        _add(summary.stage_seconds, stage.name, time.perf_counter() - began)
                        _add(summary.stage_cpu, stage.name, time.thread_time() - began_cpu)
                out_q.put(_Batch(closing, marks, final=True))
            except BaseException as exc:
                errors.append(exc)
                abort.set()
            finally:
                if forward is not None and consumer:
                    put_marker(forward, consumer[0])  # after this lane closed its stages
                out_q.put(_DONE)

        reader: list[threading.Thread] = []
        workers = [threading.Thread(target=work, args=(video_q, detect_lane, read_q if read_lane else None, reader),
                                    name="sw-vision", daemon=True),
                   threading.Thread(target=work, args=(audio_q, audio_stages), name="sw-audio", daemon=True)]
        if read_lane:
            reader.append(threading.Thread(target=work, args=(read_q, read_lane), name="sw-vision-2", daemon=True))
            workers.append(reader[0])
        threads = [threading.Thread(target=decode, name="sw-decode", daemon=True), *workers]
        marks = dict(resume)
        done_before = {name: info.duration or 0.0 for name in plan.done}
        with _short_switches():
            for t in threads:
                t.start()
            try:
                self._write(out_q, info, marks, done_before, summary, counters, workers=len(workers))
            except BaseException:
                _wind_down(stop, out_q, threads)  # a native inference thread alive at exit aborts the process
                raise
            for t in threads:
                t.join(timeout=10)
        summary.frames = counters["frames"]
        summary.keyframes = counters["keyframes"]
        summary.dropped_keyframes = counters["dropped"]
        summary.gaps = counters["gaps"]
        summary.audio_seconds = float(counters["audio"])
        if errors:
            exc = errors[0]
            if isinstance(exc, ScenewatchError):
                raise exc
            raise SourceError(f"{info.uri}: {type(exc).__name__}: {exc}") from exc
        return bool(counters["eof"])

    def _process(self, item: Keyframe | AudioChunk, lane_stages: Sequence[Stage], resume: dict[str, float],
                 failed: set[str], summary: RunSummary, shared: KeyframeShared | None = None) -> _Batch:
        """Run one keyframe or audio chunk through a lane's stages (each from its own resume point)."""
        emits: list[tuple[str, Emit]] = []
        marks: dict[str, float] = {}
        shared = shared if shared is not None else KeyframeShared()
        for stage in lane_stages:
            if stage.name in failed:
                continue
            start = resume[stage.name]
            began, began_cpu = time.perf_counter(), time.thread_time()
            try:
                if isinstance(item, AudioChunk):
                    chunk = _from(item, start)
                    if chunk is None:
                        continue
                    out = stage.on_audio(chunk)
                    done_until = item.end
                else:
                    if item.frame.pts < start:
                        continue
                    out = stage.on_keyframe(item, shared)
                    done_until = item.frame.pts
                emits.extend((stage.name, e) for e in out)
                held = stage.resume_point()
                marks[stage.name] = done_until if held is None else min(held, done_until)
            except Exception as exc:  # one broken stage must not stop the others
                failed.add(stage.name)
                summary.skipped_stages[stage.name] = f"failed: {exc}"
                log.exception("stage %s failed; disabled for this source", stage.name)
            finally:
                _add(summary.stage_seconds, stage.name, time.perf_counter() - began)
                _add(summary.stage_cpu, stage.name, time.thread_time() - began_cpu)
        return _Batch(emits, marks)

    def _write(self, out_q: queue.Queue[Any], info: Any, marks: dict[str, float], done_before: dict[str, float],
               summary: RunSummary, counters: dict[str, Any], workers: int) -> None:
        """The single store writer: drains ready batches and commits them in one transaction."""
        joiner = RowJoiner(self.store, info.id, dict(marks))
        duration = info.duration
        finished: set[str] = set()
        last_report = 0.0
        last_renew = last_trim = time.monotonic()
        for batches in _drain(out_q, workers):
            if time.monotonic() - last_renew > LOCK_LEASE / 6:
                self.store.renew_source_lock(info.id, self._owner, LOCK_LEASE)
                last_renew = time.monotonic()
            if time.monotonic() - last_trim > TRIM_EVERY:
                _trim_heap()
                last_trim = time.monotonic()
            if not batches:
                continue
            emits: list[tuple[str, Emit]] = []
            finals: set[tuple[str, str]] = set()
            for batch in batches:
                emits.extend(batch.emits)
                finals.update((s, e.key) for s, e in batch.emits if e.key is not None and e.final)
                for name, t in batch.marks.items():
                    if t == _INF:
                        finished.add(name)
                    marks[name] = max(marks.get(name, 0.0), t) if t != _INF else _INF
            inserts, imeta, updates, umeta, ikeys = joiner.batch(emits)
            end_time = duration or summary.media_time
            stage_marks = {n: StageProgress(end_time if t == _INF else t, "done" if n in finished else "running")
                           for n, t in marks.items()}
            working = [sp.processed_until for n, sp in stage_marks.items()
                       if not summary.skipped_stages.get(n, "").startswith("failed")]
            watermark = min(working + list(done_before.values()), default=end_time)
            ids = self.store.commit_batch(inserts, updates, progress=(info.id, watermark), meta=imeta,
                                          update_meta=umeta, stages=stage_marks)
            joiner.stored(ikeys, ids, finals)
            summary.observations += len(ids)
            summary.media_time = max(summary.media_time, watermark)
            changed = [replace(o, id=i) for o, i in zip(inserts, ids, strict=True)] + updates
            if changed and self.on_observations is not None:
                try:
                    summary.events += self.on_observations(changed)
                except Exception:  # triggers must never stop ingest
                    log.exception("trigger hook failed")
            now = time.monotonic()
            if self.on_progress is not None and now - last_report > 0.1:
                last_report = now
                self.on_progress(Progress(info.id, info.uri, summary.media_time, duration, counters["keyframes"],
                                          summary.observations, counters["dropped"]))
        def final_status(name: str) -> str:
            if name in finished:
                return "done"
            return "failed" if summary.skipped_stages.get(name, "").startswith("failed") else "stopped"

        status = {n: StageProgress(duration or summary.media_time if n in finished else t, final_status(n))
                  for n, t in marks.items()}
        self.store.set_stage_progress(info.id, status)
        for name in finished:
            self.store.close_open_rows(info.id, name)
        summary.done_stages = sorted({*summary.done_stages, *finished})
        if self.on_progress is not None:
            self.on_progress(Progress(info.id, info.uri, summary.media_time, duration, counters["keyframes"],
                                      summary.observations, counters["dropped"], status="finished"))


_MALLOC_TUNED: list[Any] = []  # [True, malloc_trim] once tuned
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc mallopt parameters
MALLOC_ARENAS = 2
MMAP_THRESHOLD = 4 << 20
TRIM_EVERY = 3.0  # seconds between heap trims by the writer
COMMIT_GATHER = 0.1
"""Seconds the writer keeps gathering batches after the first before it commits them together.

Each keyframe and each audio chunk is a batch; committing each alone cost a transaction and the
stage-progress rows per batch (~1,200 commits per quiet 10 min; the writer's CPU fell 2.0 → 1.5 s).
Rows are the same either way; commits come at most this much later."""


def _bound_malloc() -> None:
    """Bound glibc's heap growth for a process that runs stages on several threads (once per process).

    By default glibc gives each thread that allocates under contention its own arena (up to
    8 per core) and raises its mmap threshold up to 32 MB after large blocks are freed, so
    the decode, model and writer threads each kept tens of MB of freed frames, tensors and
    spectrograms resident. Two arenas and a fixed 4 MB threshold (larger blocks are mapped
    and returned on free) cut the peak RSS of a default-stage ``watch`` by ~150 MB.
    Other C libraries (musl, macOS) are left alone.
    """
    if _MALLOC_TUNED or sys.platform != "linux":
        return
    _MALLOC_TUNED.append(True)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _MALLOC_TUNED.append(libc.malloc_trim)
    except (OSError, AttributeError) as exc:  # not glibc
        log.debug("malloc left as it is: %s", exc)


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc only).

    Models load lazily and every stage frees large temporaries at its own pace, leaving free
    pages scattered through the heap that ``free`` alone never returns; the writer trims every
    :data:`TRIM_EVERY` seconds (a few ms each time): ~50 MB less resident between peaks.
    """
    if len(_MALLOC_TUNED) > 1:
        _MALLOC_TUNED[1](0)


@contextlib.contextmanager
def _short_switches() -> Iterator[None]:
    """Use :data:`SWITCH_INTERVAL` while at least one run is in progress (runs may overlap in a server)."""
    with _switching:
        if _switch_users[0] == 0:
            _switch_users[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL, _switch_users[1]))
        _switch_users[0] += 1
    try:
        yield
    finally:
        with _switching:
            _switch_users[0] -= 1
            if _switch_users[0] == 0:
                sys.setswitchinterval(_switch_users[1])


def _wind_down(stop: threading.Event, out_q: queue.Queue[Any], threads: Sequence[threading.Thread],
               limit: float = 30.0) -> None:
    """After the writer failed (disk full…): stop, and keep taking batches until decoder and workers end."""
    stop.set()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        with contextlib.suppress(queue.Empty):
            out_q.get(timeout=0.2)


def _holder_gone(owner: str) -> bool:
    """Whether a lock holder (``host:pid:run``) was a process on this machine that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _drain(out_q: queue.Queue[Any], workers: int, gather: float = COMMIT_GATHER) -> Iterator[list[_Batch]]:
    """Yield the batches that arrived within ``gather`` seconds of the first (possibly none) until
    every worker has ended.

    Waits at most a second at a time, so the writer can renew its lock while stages are slow.
    """
    done = 0
    while done < workers:
        batches: list[_Batch] = []
        ended = 0
        try:
            item = out_q.get(timeout=1.0)
        except queue.Empty:
            yield []
            continue
        until = time.monotonic() + gather
        while True:
            if item is _DONE:
                ended += 1
            else:
                batches.append(item)
            if len(batches) >= 256 or done + ended >= workers:
                break
            try:
                item = out_q.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
        done += ended
        yield batches


def _add(totals: dict[str, float], name: str, seconds: float) -> None:
    totals[name] = totals.get(name, 0.0) + seconds


def _from(chunk: AudioChunk, start: float) -> AudioChunk | None:
    """The part of a chunk at or after ``start`` (``None`` when it all lies before)."""
    if chunk.end <= start:
        return None
    if chunk.start >= start:
        return chunk
    skip = round((start - chunk.start) * chunk.sample_rate)
    wall = None if chunk.wall_time is None else chunk.wall_time + skip / chunk.sample_rate
    return replace(chunk, samples=chunk.samples[skip:], start=chunk.start + skip / chunk.sample_rate, wall_time=wall)
