"""The ``text`` pipeline stage: read regions of interest on keyframes, merge lines over time.

Each line of text becomes one ``text`` observation keyed ``text:<n>`` once it is confirmed (read
on two keyframes, or at ``confirm_score`` on one) and is real text (``min_chars``, not symbols
alone), emitted with ``final=False`` when it first appears, whenever its best reading improves and about once a
second while it stays visible, and with ``final=True`` when it goes (or the source ends).
A JPEG crop of its best reading is saved under the source's media directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from scenewatch.payloads import TextPayload
from scenewatch.perception.ocr import TextReader, build_reader
from scenewatch.perception.ocr.images import jpeg_thumbnail
from scenewatch.perception.ocr.merge import TextMerger, TextSpan, is_text
from scenewatch.perception.ocr.regions import RegionPlanner
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput, stored_media_ref
from scenewatch.types import Detections, Keyframe, Observation

log = logging.getLogger(__name__)

REEMIT_SECONDS = 1.0  # refresh a growing span's row about this often


@dataclass(frozen=True, slots=True)
class SpanUpdate:
    """A text span that changed on a keyframe; ``final`` when it has closed."""

    span: TextSpan
    final: bool


class TextTimeline:
    """Reader + region planner + merger for one source, without the runner.

    Used by :class:`TextStage` inside the pipeline and by :func:`~scenewatch.perception.ocr.read.read_path`.

    Args:
        settings: OCR settings.
        source_id: id of the source (for observations).
        media_dir: where thumbnails go; ``None`` saves none.
        reader: a ready reader (built from ``settings.backend`` when ``None``).
    """

    def __init__(self, settings: OcrSettings, source_id: str, media_dir: Path | None = None,
                 reader: TextReader | None = None) -> None:
        self.settings = settings
        self.source_id = source_id
        self.media_dir = media_dir if settings.thumbnails else None
        self.reader = reader if reader is not None else build_reader(settings)
        self.planner = RegionPlanner(settings)
        self.merger = TextMerger(settings)
        self._emitted: dict[int, float] = {}  # span id -> end at its last emission
        self.thumbnails: dict[int, Path] = {}
        self.wall_offset: float | None = None

    def on_keyframe(self, keyframe: Keyframe, detections: Detections | None = None) -> list[SpanUpdate]:
        """Read one keyframe and return the spans whose row should be written."""
        frame = keyframe.frame
        if self.wall_offset is None and frame.wall_time is not None:
            self.wall_offset = frame.wall_time - frame.pts  # live source: rows carry wall-clock too
        text_boxes = np.asarray([s.last_box for s in self.merger.open], np.float32).reshape(-1, 4)
        regions = self.planner.plan(keyframe, detections, text_boxes)
        readings = [] if regions is not None and not len(regions) else self.reader.read(frame, regions)
        new, improved, closed = self.merger.update(frame.pts, readings, regions, keyframe.changed_boxes)
        for span in (*new, *improved):
            self._thumbnail(span, frame.image)
        out = [SpanUpdate(s, False) for s in (*new, *improved) if self.confirmed(s)]
        seen = {u.span.id for u in out}
        for span in self.merger.open:
            if span.id in seen or not self.confirmed(span):
                continue
            if span.id not in self._emitted or span.end - self._emitted[span.id] >= REEMIT_SECONDS:
                out.append(SpanUpdate(span, False))  # just confirmed, or a steady refresh
        out.extend(SpanUpdate(s, True) for s in closed if self.confirmed(s))
        for u in out:
            self._emitted[u.span.id] = u.span.end
        return out

    def confirmed(self, span: TextSpan) -> bool:
        """Whether a span may be a row: read on two keyframes or confidently on one, and real text
        (``min_chars`` characters, not symbols alone: no "O" or "●" beside a line)."""
        s = self.settings
        return (span.readings >= 2 or span.score >= s.confirm_score) and is_text(span.text, s.min_chars)

    def close(self) -> list[SpanUpdate]:
        """The source ended: close all spans (unconfirmed ones leave no row)."""
        return [SpanUpdate(s, True) for s in self.merger.close() if self.confirmed(s)]

    def observation(self, span: TextSpan) -> Observation:
        """The timeline row for a span."""
        thumb = self.thumbnails.get(span.id)
        box = tuple(float(v) for v in span.box)
        return Observation(
            kind="text", source_id=self.source_id, start=span.start, end=max(span.end, span.start),
            label="text", text=span.text, confidence=float(np.clip(span.score, 0.0, 1.0)),
            box=(box[0], box[1], box[2], box[3]),
            wall_start=None if self.wall_offset is None else self.wall_offset + span.start,
            payload=TextPayload(
                readings=span.readings,
                variants=[t for t, _ in span.variants.most_common(5)],
                best_time=span.best_time,
                thumbnail=stored_media_ref(thumb, self.media_dir) if thumb and self.media_dir else None,
            ),
        )

    def _thumbnail(self, span: TextSpan, image: np.ndarray) -> None:
        if self.media_dir is None:
            return
        x1, y1, x2, y2 = (float(v) for v in span.box)
        path = self.media_dir / "text" / f"text-{span.id}.jpg"
        try:
            self.thumbnails[span.id] = jpeg_thumbnail(image, (x1, y1, x2, y2), path)
        except OSError as exc:  # a full disk costs the thumbnail, not the reading
            log.warning("cannot save text thumbnail %s: %s", path, exc)


class TextStage(BaseStage):
    """Pipeline stage ``text``: OCR on keyframes, one growing observation per line of text.

    Args:
        ctx: stage context; ``ctx.settings.ocr`` holds the settings.

    Raises:
        BackendUnavailable: the configured reader's package or weights are missing.
    """

    name: ClassVar[str] = "text"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext, reader: TextReader | None = None) -> None:
        self.timeline = TextTimeline(ctx.settings.ocr, ctx.source.id, ctx.media_dir, reader)

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Read the keyframe's regions of interest and emit the text spans that changed."""
        return self._emits(self.timeline.on_keyframe(keyframe, shared.detections))

    def close(self) -> list[Emit]:
        """Finalise every open text span."""
        return self._emits(self.timeline.close())

    def _emits(self, updates: list[SpanUpdate]) -> list[Emit]:
        return [Emit(self.timeline.observation(u.span), key=f"text:{u.span.id}", final=u.final) for u in updates]
