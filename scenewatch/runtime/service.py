"""Service functions shared by every surface (CLI now, REST API and Ray later).

Each function takes a validated :class:`~scenewatch.config.Config` and plain arguments,
does the work, and returns typed results; surfaces only parse input and render output.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError, StoreError
from scenewatch.ingest.sources import expand_sources
from scenewatch.memory import backends as memory_backends
from scenewatch.memory.store import TimelineStore
from scenewatch.payloads import ObjectPayload, SoundPayload
from scenewatch.runtime import recall
from scenewatch.runtime.files import detect_file, read_file, sounds_file, transcribe_file
from scenewatch.runtime.pipeline import Pipeline, Progress, RunSummary
from scenewatch.runtime.recall import open_target, parse_media_time, prune, reembed, report, search
from scenewatch.types import Observation, SourceInfo

log = logging.getLogger(__name__)


def open_store(config: Config, readonly: bool = False) -> TimelineStore:
    """Open the configured timeline store."""
    return memory_backends.open_store(config.store.target, readonly=readonly)


def probe(uri: str, config: Config | None = None) -> list[SourceInfo]:
    """Describe a file, folder, URL or device without ingesting it."""
    cfg = config or Config()
    sources = expand_sources(uri, cfg.ingest)
    infos = [s.info for s in sources]
    for s in sources:
        s.close()
    return infos


class _Triggers:
    """The trigger engine wired to one run: configured rules plus rules compiled from ``--for``."""

    def __init__(self, config: Config, store: TimelineStore) -> None:
        from scenewatch.triggers.actions import OutboxWorker
        from scenewatch.triggers.engine import TriggerEngine
        from scenewatch.triggers.rules import rules_from_phrases

        settings = config.triggers.model_copy(
            update={"rules": [*config.triggers.rules, *rules_from_phrases(list(config.concepts))]})
        self.engine = TriggerEngine(settings, store)
        self.worker = OutboxWorker(self.engine.dispatcher).start() if settings.rules else None

    def replay(self, source_id: str) -> int:
        """Rebuild rule state from the source's stored rows before a run continues it."""
        return len(self.engine.replay(source_id)) if self.engine.rules else 0

    def hook(self, rows: list[Observation]) -> int:
        """Evaluate rules on committed rows; events are stored and actions queued by the engine."""
        return len(self.engine.on_observations(rows))

    def finish(self, summaries: list[RunSummary]) -> None:
        """Let absence rules see the end of each source, then flush due deliveries."""
        for s in summaries:
            s.events += len(self.engine.advance(s.source_id, s.media_time))
        if self.worker is not None:
            self.worker.stop()
            self.engine.dispatcher.deliver_due()


def _index_vectors(config: Config, store: TimelineStore) -> None:
    """Embed new observations for semantic search, when the embedder is available."""
    from scenewatch.memory.vectors import index_pending
    from scenewatch.runtime import models

    try:
        index_pending(store, models.embedder(config.perception.embed))
    except StoreError:
        raise  # a full disk or a read-only database is the user's problem to see, not a warning
    except Exception as exc:  # no embedder: search still works by keywords without vectors
        log.warning("vector indexing skipped: %s", exc)


def watch(
    uri: str,
    config: Config,
    *,
    until: float | None = None,
    restart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RunSummary]:
    """Run the perception loop over ``uri`` and store what was perceived.

    Args:
        uri: file, folder, live URL or device.
        config: the configuration (concepts, stages, store path…).
        until: stop each source after this many media seconds.
        restart: ingest from the start even if the source was (partly) ingested.
        on_progress: progress callback (called from a worker thread).
        stop: event that stops the run cleanly.
    """
    with open_store(config) as store:
        triggers = _Triggers(config, store)
        pipeline = Pipeline(config, store, on_progress=on_progress, on_observations=triggers.hook, stop=stop,
                            on_resume=triggers.replay)
        try:
            summaries = pipeline.run(uri, until=until, restart=restart)
        finally:
            triggers.finish(pipeline.summaries)
        _index_vectors(config, store)
        return summaries


def timeline(config: Config, source_id: str | None = None, kinds: list[str] | None = None,
             since: float | None = None, until: float | None = None,
             min_confidence: float = 0.0) -> list[Observation]:
    """Stored observations in time order, filtered."""
    with open_store(config, readonly=True) as store:
        return store.observations(source_id=source_id, kinds=kinds, since=since, until=until,
                                  min_confidence=min_confidence)


def observation_dict(obs: Observation) -> dict[str, Any]:
    """JSON-ready form of an observation."""
    d = asdict(obs)
    d["payload"] = obs.payload.to_json_dict()
    d["box"] = list(obs.box) if obs.box else None
    return d


def map_concepts(config: Config, text: str, use_embeddings: bool = True) -> Any:
    """What each comma-separated concept means to the stages (``scenewatch concepts``), from the one vocabulary."""
    from scenewatch.perception.concepts import ConceptMapper
    from scenewatch.runtime.models import LazyEmbedder

    mapper = ConceptMapper(embedder=LazyEmbedder(config.perception.embed),
                           threshold=config.perception.detect.concept_threshold,
                           max_concepts=config.perception.detect.max_concepts, use_embeddings=use_embeddings)
    return mapper.map(text)


# ------------------------------------------------------------------ file commands
# ``detect``/``read``/``transcribe``/``sounds`` on a file are one stage of the pipeline
# (runtime/files.py); these give their rows the shapes the CLI and API print.


def object_row(obs: Observation) -> dict[str, Any]:
    """The ``detect --json`` shape of an object row."""
    p = obs.payload
    assert isinstance(p, ObjectPayload)
    return {
        "track_id": obs.track_id, "label": obs.label, "concept": p.concept or obs.label,
        "concepts": p.concepts or [obs.label], "start": round(obs.start, 3), "end": round(obs.end, 3),
        "score": round(obs.confidence, 3), "box": list(obs.box) if obs.box else None,
        "boxes": p.boxes, "thumbnail": p.thumbnail,
    }


def text_row(obs: Observation) -> dict[str, Any]:
    """The ``read --json`` shape of a text row."""
    box = obs.box or (0.0, 0.0, 0.0, 0.0)
    return {"start": round(obs.start, 2), "end": round(obs.end, 2), "text": obs.text,
            "box": [round(v) for v in box], "score": round(min(1.0, max(0.0, obs.confidence)), 3)}


def speech_row(obs: Observation) -> dict[str, Any]:
    """The ``transcribe --json`` shape of a speech row (with its identified language)."""
    language = getattr(obs.payload, "language", None)
    return {"start": round(obs.start, 3), "end": round(obs.end, 3), "text": obs.text, "language": language}


def sound_row(obs: Observation) -> dict[str, Any]:
    """The ``sounds --json`` shape of a sound row."""
    p = obs.payload
    labels = list(p.labels) if isinstance(p, SoundPayload) and p.labels else [obs.label]
    return {"start": round(obs.start, 3), "end": round(obs.end, 3), "label": obs.label, "labels": labels,
            "score": round(obs.confidence, 3)}


__all__ = [
    "Progress", "RunSummary", "ask", "detect_file", "map_concepts", "object_row", "observation_dict", "open_store",
    "open_target", "parse_media_time", "probe", "prune", "read_file", "reembed", "report", "search", "sound_row",
    "sounds_file", "speech_row", "text_row", "timeline", "transcribe_file", "watch",
]


def ask(config: Config, target: str, question: str, *,
        on_fallback: Callable[[str], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None) -> Any:
    """A grounded answer about ``target``, citing evidence.

    A file or folder is watched first (resumed where an earlier run stopped, skipped when it is
    already done), so ``ask clip.mp4 "…"`` works in one command; a folder of several sources is
    answered across the timeline, each piece of evidence naming its source. ``all`` asks the whole timeline; a URL or
    source id asks what is stored for it; a ``.db`` file is a timeline of its own.

    Args:
        config: settings (reasoner, embedder, store).
        target: a file or folder, a watched URL or source id, ``all``, or a timeline database file.
        question: the question in plain words.
        on_fallback: told why, when the configured reasoner is missing and rules answer alone.
        on_progress: progress of the watch that runs first.
    """
    watched: list[str] | None = None
    if recall.is_local_media(target):
        summaries = watch(target, config, on_progress=on_progress)
        watched = [s.source_id for s in summaries if s.status != "failed"]
        if not watched:
            why = "; ".join(f"{s.uri}: {s.error}" for s in summaries) or "no media found"
            raise ScenewatchError(f"cannot answer about {target}: {why}")
    return recall.ask(config, target, question, on_fallback=on_fallback, watched=watched)
