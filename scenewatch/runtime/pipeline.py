"""The pipeline runner: source → keyframe sampler → registered stages → timeline store.

All concurrency lives here. One decode thread reads the source, samples keyframes and feeds
two bounded queues; a vision worker runs the keyframe stages in configured order (so OCR
sees the detector's boxes), an audio worker runs the audio stages, and the calling thread is
the single store writer. Bounded queues give back-pressure: a file is never dropped from
(decode waits), a live source drops keyframes when stages fall behind.

Progress is committed with the observations it covers, in one transaction: after a crash,
``processed_until`` is a point before which everything is stored, and a re-run resumes there.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import BackendUnavailable, ScenewatchError, SourceError
from scenewatch.ingest.keyframes import KeyframeSampler
from scenewatch.ingest.sources import Gap, MediaSource, VideoItem, expand_sources
from scenewatch.memory.store import TimelineStore
from scenewatch.perception.registry import STAGES
from scenewatch.perception.stage import Emit, KeyframeShared, Stage, StageContext
from scenewatch.types import AudioChunk, Keyframe, Observation

log = logging.getLogger(__name__)

_DONE = object()


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
    error: str | None = None


@dataclass(slots=True)
class _Batch:
    emits: list[Emit]
    lane: str  # "video" | "audio" | "source"
    upto: float | None  # this lane has processed everything before this time


ObservationHook = Callable[[list[Observation]], int]


class Pipeline:
    """Runs the perception loop over sources and writes the timeline.

    Args:
        config: validated config.
        store: open timeline store (the pipeline is its only writer while running).
        on_progress: called from the writer thread with :class:`Progress` reports.
        on_observations: called after each commit with the rows inserted or updated; returns
            how many events it fired (the trigger engine plugs in here).
        stop: set to stop cleanly (Ctrl-C, ``--until`` on live sources, API cancel).
    """

    def __init__(
        self,
        config: Config,
        store: TimelineStore,
        on_progress: Callable[[Progress], None] | None = None,
        on_observations: ObservationHook | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_progress = on_progress
        self.on_observations = on_observations
        self.stop = stop or threading.Event()
        self.summaries: list[RunSummary] = []  # of the current/last run, also when it raised

    # ------------------------------------------------------------------ public
    def run(self, uri: str, until: float | None = None, restart: bool = False) -> list[RunSummary]:
        """Ingest a file, folder, URL or device; return one summary per source.

        Args:
            uri: what to watch.
            until: stop after this many media seconds (per source).
            restart: forget earlier progress and ingest from the start.
        """
        sources = expand_sources(uri, self.config.ingest, self.stop)
        self.summaries = []
        for source in sources:
            if self.stop.is_set():
                break
            self.summaries.append(self.run_source(source, until=until, restart=restart))
        return list(self.summaries)

    def run_source(self, source: MediaSource, until: float | None = None, restart: bool = False) -> RunSummary:
        """Ingest one opened source."""
        info = source.info
        self.store.upsert_source(info)
        resume, status = self.store.source_progress(info.id)
        if restart:
            resume = 0.0
        if status == "done" and not restart and source.kind == "file":
            source.close()
            return RunSummary(info.id, info.uri, "already done", media_time=resume, resumed_from=resume)
        if source.kind != "file":
            resume = 0.0  # a live stream cannot seek back; its media clock restarts
        # Rows past the committed watermark came from a lane that ran ahead before a crash.
        self.store.reset_source(info.id, after=resume)
        summary = RunSummary(info.id, info.uri, "running", resumed_from=resume)
        stages, skipped = self._build_stages(source)
        summary.stages = [s.name for s in stages]
        summary.skipped_stages = skipped
        self.store.set_source_status(info.id, "running")
        started = time.monotonic()
        try:
            self._execute(source, stages, summary, resume, until)
            summary.status = "stopped" if self.stop.is_set() or (until is not None and summary.status == "until") \
                else "done"
        except ScenewatchError as exc:
            summary.status, summary.error = "failed", str(exc)
            self.store.set_source_status(info.id, "failed", str(exc))
            raise
        finally:
            source.close()
            summary.wall_seconds = time.monotonic() - started
        final_status = "done" if summary.status == "done" else "stopped"
        self.store.set_source_status(info.id, final_status)
        summary.status = final_status
        return summary

    # ---------------------------------------------------------------- internals
    def _build_stages(self, source: MediaSource) -> tuple[list[Stage], dict[str, str]]:
        info = source.info
        media_dir = self.config.store.resolved_media_dir() / info.id
        ctx = StageContext(self.config.perception, info, media_dir, tuple(self.config.concepts))
        stages: list[Stage] = []
        skipped: dict[str, str] = {}
        for name in self.config.perception.stages:
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
        return stages, skipped

    def _execute(self, source: MediaSource, stages: list[Stage], summary: RunSummary,
                 resume: float, until: float | None) -> None:
        info = source.info
        qsize = self.config.runtime.queue_size
        drop = self.config.runtime.drop_when_behind
        drop = source.kind != "file" if drop is None else drop
        video_stages = [s for s in stages if "keyframe" in s.inputs]
        audio_stages = [s for s in stages if "audio" in s.inputs]
        video_q: queue.Queue[Any] = queue.Queue(qsize)
        audio_q: queue.Queue[Any] = queue.Queue(qsize)
        out_q: queue.Queue[Any] = queue.Queue(qsize * 4)
        errors: list[BaseException] = []
        counters: dict[str, Any] = {"frames": 0, "keyframes": 0, "dropped": 0, "gaps": 0, "audio": 0.0,
                                    "eof": False}
        lanes = {"video": resume if video_stages and info.has_video else None,
                 "audio": resume if audio_stages and info.has_audio else None}

        def put(q: queue.Queue[Any], item: Any, droppable: bool) -> None:
            while not self.stop.is_set():
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

        def decode() -> None:
            sampler = KeyframeSampler(self.config.ingest.keyframes, info.width, info.height)
            width = self.config.ingest.keyframes.analysis_width
            try:
                for item in source.items(start_at=resume):
                    if self.stop.is_set():
                        break
                    t = item.pts if isinstance(item, VideoItem) else item.start
                    if until is not None and t > until:
                        summary.status = "until"
                        break
                    if isinstance(item, VideoItem):
                        counters["frames"] += 1
                        if not video_stages:
                            continue
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
                        put(out_q, _Batch([Emit(Observation(
                            kind="gap", source_id=info.id, start=item.start, end=item.end, label="stream gap",
                            text=item.reason, wall_start=item.wall_start))], "source", None), droppable=False)
                counters["eof"] = summary.status != "until" and not self.stop.is_set()
            except BaseException as exc:  # surfaced by the writer after shutdown
                errors.append(exc)
            finally:
                put(video_q, _DONE, droppable=False)
                put(audio_q, _DONE, droppable=False)

        def work(q: queue.Queue[Any], lane: str, lane_stages: Sequence[Stage]) -> None:
            failed: set[str] = set()
            try:
                while True:
                    item = q.get()
                    if item is _DONE:
                        break
                    emits: list[Emit] = []
                    shared = KeyframeShared()
                    for stage in lane_stages:
                        if stage.name in failed:
                            continue
                        try:
                            emits.extend(stage.on_keyframe(item, shared) if lane == "video" else stage.on_audio(item))
                        except Exception as exc:  # one broken stage must not stop the others
                            failed.add(stage.name)
                            summary.skipped_stages[stage.name] = f"failed: {exc}"
                            log.exception("stage %s failed; disabled for this source", stage.name)
                    upto = item.frame.pts if lane == "video" else item.start
                    out_q.put(_Batch(emits, lane, upto))
                closing: list[Emit] = []
                for stage in lane_stages:
                    if stage.name not in failed:
                        try:
                            closing.extend(stage.close())
                        except Exception as exc:
                            summary.skipped_stages[stage.name] = f"failed at close: {exc}"
                            log.exception("stage %s failed at close", stage.name)
                out_q.put(_Batch(closing, lane, None))
            except BaseException as exc:
                errors.append(exc)
            finally:
                out_q.put(_DONE)

        threads = [threading.Thread(target=decode, name="sw-decode", daemon=True),
                   threading.Thread(target=work, args=(video_q, "video", video_stages), name="sw-vision", daemon=True),
                   threading.Thread(target=work, args=(audio_q, "audio", audio_stages), name="sw-audio", daemon=True)]
        for t in threads:
            t.start()
        self._write(out_q, info.id, info.uri, info.duration, lanes, summary, counters, workers=2)
        for t in threads:
            t.join(timeout=30)
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

    def _write(self, out_q: queue.Queue[Any], source_id: str, uri: str, duration: float | None,
               lanes: dict[str, float | None], summary: RunSummary, counters: dict[str, Any], workers: int) -> None:
        """The single store writer: drains ready batches and commits them in one transaction."""
        open_rows: dict[str, int] = {}
        done = 0
        last_report = 0.0
        while done < workers:
            batches: list[_Batch] = []
            item = out_q.get()
            while True:
                if item is _DONE:
                    done += 1
                else:
                    batches.append(item)
                if len(batches) >= 256 or done >= workers:
                    break
                try:
                    item = out_q.get_nowait()
                except queue.Empty:
                    break
            if not batches:
                continue
            inserts: list[Observation] = []
            insert_keys: list[str | None] = []
            pending: dict[str, int] = {}  # key -> index in inserts, for keys not yet stored
            closed: set[str] = set()
            updates: dict[int, Observation] = {}
            for batch in batches:
                if batch.lane in lanes and lanes[batch.lane] is not None:
                    if batch.upto is not None:
                        lanes[batch.lane] = batch.upto
                    elif counters["eof"]:  # the lane saw the whole source
                        lanes[batch.lane] = float("inf")
                for emit in batch.emits:
                    key = emit.key
                    if key is not None and key in open_rows:
                        updates[open_rows[key]] = _with_id(emit.observation, open_rows[key])
                    elif key is not None and key in pending:
                        inserts[pending[key]] = emit.observation
                    else:
                        if key is not None:
                            pending[key] = len(inserts)
                        inserts.append(emit.observation)
                        insert_keys.append(key)
                    if key is not None and emit.final:
                        closed.add(key)
            watermark = min((v for v in lanes.values() if v is not None), default=float("inf"))
            if watermark == float("inf"):
                watermark = duration or summary.media_time
            ids = self.store.commit_batch(inserts, list(updates.values()), progress=(source_id, watermark))
            for new_id, key in zip(ids, insert_keys, strict=True):
                if key is not None:
                    open_rows[key] = new_id
            for key in closed:
                open_rows.pop(key, None)
            summary.observations += len(ids)
            summary.media_time = max(summary.media_time, watermark)
            changed = [_with_id(o, i) for o, i in zip(inserts, ids, strict=True)] + list(updates.values())
            if changed and self.on_observations is not None:
                try:
                    summary.events += self.on_observations(changed)
                except Exception:  # triggers must never stop ingest
                    log.exception("trigger hook failed")
            now = time.monotonic()
            if self.on_progress is not None and now - last_report > 0.1:
                last_report = now
                self.on_progress(Progress(source_id, uri, summary.media_time, duration, counters["keyframes"],
                                          summary.observations, counters["dropped"]))
        if self.on_progress is not None:
            self.on_progress(Progress(source_id, uri, summary.media_time, duration, counters["keyframes"],
                                      summary.observations, counters["dropped"], status="finished"))


def _with_id(obs: Observation, row_id: int) -> Observation:
    from dataclasses import replace

    return replace(obs, id=row_id)

