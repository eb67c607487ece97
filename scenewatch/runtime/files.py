"""File commands as a stage subset of the one pipeline: ``detect``, ``read``, ``transcribe``, ``sounds``.

Each runs :class:`~scenewatch.runtime.pipeline.Pipeline` over one file with only its stage,
into the configured store when the caller names one (``store``: then it resumes like
``watch``) or else into a throwaway store, and returns the stored rows. Keyframe policy,
resume and wall-clock offsets therefore exist once, in the pipeline; ``detect FILE`` and
``watch FILE --stages scene,objects`` store the same object rows.

Still images are not media streams: an image goes to the perception function that reads or
detects on one picture.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError, SourceError
from scenewatch.memory.backends import open_store
from scenewatch.perception.stage import Stage, StageContext
from scenewatch.runtime.pipeline import Pipeline, Progress
from scenewatch.types import Observation

ProgressFn = Callable[[float, float], None]
"""Called with (media seconds done, duration or 0)."""

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def _run_stage(path: Path | str, config: Config, stage: str, kind: str, *, store_path: Path | None,
               build: Callable[[StageContext], Stage] | None = None, progress: ProgressFn | None = None,
               media_dir: Path | None = None) -> list[Observation]:
    """Run one stage over one file and return its rows, time-ordered."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SourceError(f"{path} is a folder; give one file")
    cfg = config.model_copy(update={"perception": config.perception.model_copy(update={"stages": [stage]})})

    def factory(ctx: StageContext) -> list[Stage]:
        if media_dir is not None:
            ctx = replace(ctx, media_dir=media_dir)
        if build is not None:
            return [build(ctx)]
        from scenewatch.perception.registry import STAGES

        return [STAGES.get(stage)(ctx)]

    def report(p: Progress) -> None:
        if progress is not None:
            progress(p.media_time, p.duration or 0.0)

    with tempfile.TemporaryDirectory(prefix="scenewatch-") as tmp:
        if store_path is None:
            store_cfg = cfg.store.model_copy(update={"path": Path(tmp) / "timeline.db", "url": None,
                                                     "media_dir": cfg.store.media_dir or Path(tmp) / "media"})
            cfg = cfg.model_copy(update={"store": store_cfg})
        with open_store(cfg.store.target) as store:
            pipeline = Pipeline(cfg, store, on_progress=report, stages=factory)
            [summary] = pipeline.run(str(path))
            if not summary.stages and stage not in summary.done_stages:
                why = summary.skipped_stages.get(stage, "not run")
                raise SourceError(f"{path} has {why}" if why.startswith("no ") else f"{stage}: {why}")
            failed = summary.skipped_stages.get(stage)
            if failed:
                raise ScenewatchError(f"{stage} on {path.name} {failed}")
            return store.observations(source_id=summary.source_id, kinds=[kind])


def _check_track(path: Path | str, config: Config, video: bool) -> None:
    """Fail early, in one line, on a file without the track a stage needs."""
    from scenewatch.ingest.sources import MediaSource

    source = MediaSource(str(Path(path).expanduser()), config.ingest)
    try:
        info = source.info
    finally:
        source.close()
    if video and not info.has_video:
        raise SourceError(f"{path}: no video stream")
    if not video and not info.has_audio:
        raise SourceError(f"{path} has no audio track")


def detect_file(path: Path | str, concepts: Sequence[str] | str, config: Config, *, store: Path | None = None,
                media_dir: Path | None = None, progress: ProgressFn | None = None,
                detector: Any = None) -> list[Observation]:
    """Find and track concepts in a video (the pipeline's ``objects`` stage) or in an image.

    Args:
        path: video or image file.
        concepts: plain-word concepts, a list or one comma-separated string.
        config: settings; keyframes follow ``ingest.keyframes``.
        store: timeline to write into (and resume from); a throwaway one when ``None``.
        media_dir: where track thumbnails go (default: the store's media dir / source id).
        progress: called with ``(media seconds done, duration)``.
        detector: an already built detector (reused across calls by benchmarks and tests).

    Returns:
        ``object`` rows, one per present track (images: one per box), by start time.

    Raises:
        ScenewatchError: no concepts, none the detector can see, or an unreadable file.
    """
    from scenewatch.perception.detect.service import detect_image
    from scenewatch.perception.detect.stage import ObjectStage, build_tracking_detector, object_targets
    from scenewatch.vocabulary.concepts import split_concepts

    items = split_concepts(concepts) if isinstance(concepts, str) else [c for c in concepts if c.strip()]
    if not items:
        raise ScenewatchError("no concepts given: say what to look for, e.g. --for \"person, dog\"")
    settings = config.perception.detect
    det = detector or build_tracking_detector(settings)
    object_targets(det, items, settings, strict=True, embed_backend=config.perception.embed.backend)
    if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
        return detect_image(Path(path), tuple(items), config.perception, det)
    _check_track(path, config, video=True)
    cfg = config.model_copy(update={"concepts": items})
    if media_dir is None and store is None:
        media_dir_root = config.store.resolved_media_dir()  # thumbnails outlive the throwaway store
        return _run_stage(path, cfg, "objects", "object", store_path=None, progress=progress,
                          build=lambda ctx: ObjectStage(replace(ctx, media_dir=media_dir_root / ctx.source.id),
                                                        detector=det))
    return _run_stage(path, cfg, "objects", "object", store_path=store, progress=progress, media_dir=media_dir,
                      build=lambda ctx: ObjectStage(ctx, detector=det))


def read_file(path: Path | str, config: Config, *, store: Path | None = None, progress: ProgressFn | None = None,
              reader: Any = None) -> list[Observation]:
    """Read the text in an image, or each line of text in a video with its visible span.

    Videos run the pipeline's ``text`` stage with a steady keyframe floor of
    ``perception.ocr.video_fps``; images are read whole (rows at ``start = end = 0``).

    Raises:
        SourceError: missing or unreadable file, no video stream, image too small or too large.
        BackendUnavailable: the configured reader is not installed.
    """
    from scenewatch.perception.ocr.images import is_image_path
    from scenewatch.perception.ocr.read import read_image
    from scenewatch.perception.ocr.stage import TextStage

    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError(f"no such file: {p}")
    if p.is_dir():
        raise SourceError(f"{p} is a folder; give an image or a video file")
    ocr = config.perception.ocr
    if is_image_path(p):
        return read_image(p, ocr, reader=reader)
    _check_track(p, config, video=True)
    keyframes = config.ingest.keyframes.model_copy(update={"floor_fps": ocr.video_fps})
    cfg = config.model_copy(update={"ingest": config.ingest.model_copy(update={"keyframes": keyframes})})
    rows = _run_stage(p, cfg, "text", "text", store_path=store, progress=progress,
                      build=lambda ctx: TextStage(ctx, reader=reader))
    return sorted(rows, key=lambda o: (o.start, o.id or 0))


def transcribe_file(path: Path | str, config: Config, *, store: Path | None = None,
                    progress: ProgressFn | None = None, transcriber: Any = None) -> list[Observation]:
    """The speech in a file's first audio track (the pipeline's ``speech`` stage): ``speech`` rows.

    Raises:
        SourceError: the file is missing, unreadable or has no audio track.
        BackendUnavailable: the backend or its weights are not installed.
    """
    from scenewatch.perception.asr.stage import SpeechStage

    _check_track(path, config, video=False)
    return _run_stage(path, config, "speech", "speech", store_path=store, progress=progress,
                      build=lambda ctx: SpeechStage(ctx, transcriber=transcriber))


def sounds_file(path: Path | str, config: Config, *, store: Path | None = None, progress: ProgressFn | None = None,
                tagger: Any = None) -> list[Observation]:
    """The sound events in a file's first audio track (the pipeline's ``sounds`` stage): ``sound`` rows.

    Raises:
        SourceError: the file is missing, unreadable or has no audio track.
        BackendUnavailable: the tagger or its weights are not installed.
    """
    from scenewatch.perception.sounds.stage import SoundStage

    _check_track(path, config, video=False)
    rows = _run_stage(path, config, "sounds", "sound", store_path=store, progress=progress,
                      build=lambda ctx: SoundStage(ctx, tagger=tagger))
    return sorted(rows, key=lambda o: (o.start, o.label))
