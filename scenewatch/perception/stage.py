"""The contract between the pipeline runner and a perception stage.

A stage is a plain object over items: it receives keyframes and/or audio chunks of one
source and returns :class:`Emit` values. It never touches threads, queues or the store;
the runner does. Stages are registered by name in :data:`scenewatch.perception.registry.STAGES`
and built with a :class:`StageContext`.

Spans that grow over time (a tracked object, a line of text still visible) are emitted
with a stable ``key`` and ``final=False`` while open; the writer turns repeated emissions
of one key into updates of one row, so triggers and readers see them while they last.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, Protocol, TypeVar

from scenewatch.payloads import media_ref
from scenewatch.types import AudioChunk, Detections, Keyframe, Observation, SourceInfo

if TYPE_CHECKING:
    from scenewatch.perception.settings import PerceptionSettings

StageInput = Literal["keyframe", "audio"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Emit:
    """An observation a stage hands to the writer.

    Attributes:
        observation: the row.
        key: stable key of a growing span (e.g. ``"object:7"``); ``None`` for one-off rows.
        final: ``False`` while the span may still grow; the last emission of a key is final.
    """

    observation: Observation
    key: str | None = None
    final: bool = True


@dataclass(slots=True)
class KeyframeShared:
    """What stages running on the same keyframe share, in stage order.

    Attributes:
        detections: set by the objects stage, read by later stages (OCR regions of interest).
    """

    detections: Detections | None = None


@dataclass(frozen=True, slots=True)
class StageContext:
    """Everything a stage may know about its surroundings when built.

    Attributes:
        settings: the perception section of the config (stage and backend settings).
        source: the source being processed.
        media_dir: directory for thumbnails/crops of this source (created on demand).
        concepts: the user's plain-word concepts (``--for``).
    """

    settings: PerceptionSettings
    source: SourceInfo
    media_dir: Path
    concepts: tuple[str, ...] = field(default_factory=tuple)


class Stage(Protocol):
    """A perception stage the runner can drive."""

    name: ClassVar[str]
    inputs: ClassVar[frozenset[StageInput]]

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Process one keyframe (called in time order)."""
        ...

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Process one audio chunk (called in time order)."""
        ...

    def close(self) -> list[Emit]:
        """The source ended: finalise open spans."""
        ...

    def resume_point(self) -> float | None:
        """The earliest media time whose outcome this stage has not emitted yet.

        The runner commits this (not the time of the last input) as the stage's watermark, so
        a run killed at any moment resumes where nothing is lost: an audio stage holding a
        30 s window answers the window's start. ``None``: everything fed so far was emitted
        (open keyed spans excepted: the runner continues those on resume).
        """
        ...


class BaseStage:
    """Convenience base with no-op handlers; subclasses override what they consume."""

    name: ClassVar[str] = "base"
    inputs: ClassVar[frozenset[StageInput]] = frozenset()
    #: Whether ``on_keyframe`` fills :class:`KeyframeShared` for the stages after it; the runner
    #: runs the stages after the last such stage on a second thread, one keyframe behind.
    writes_shared: ClassVar[bool] = False

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Ignore keyframes unless overridden."""
        return []

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Ignore audio unless overridden."""
        return []

    def close(self) -> list[Emit]:
        """Nothing to finalise unless overridden."""
        return []

    def resume_point(self) -> float | None:
        """Nothing held back unless overridden."""
        return None


class AudioStream(Protocol[T]):
    """Something that turns audio chunks into finished items (segments, sound events)."""

    def push(self, chunk: AudioChunk) -> list[T]:
        """Add a chunk; return the items that are now final."""
        ...

    def flush(self) -> list[T]:
        """The source ended: return what is still open."""
        ...


class HoldsAudio(Protocol):
    """An audio stream that can say where its un-emitted audio begins."""

    def resume_point(self) -> float | None:
        """Media time of the oldest audio whose items are not emitted yet; ``None`` if none is held."""
        ...


class StreamingAudioStage(BaseStage, Generic[T]):
    """An audio stage over a streaming recogniser; subclasses say how an item becomes a row.

    Keeps the live source's wall-clock offset so rows carry ``wall_start`` too.
    """

    inputs: ClassVar[frozenset[StageInput]] = frozenset({"audio"})

    def __init__(self, source_id: str, stream: AudioStream[T]) -> None:
        self.source_id = source_id
        self._stream = stream
        self._wall_offset: float | None = None  # wall_time - media time, for live sources
        self._fed = False
        self._emitted_until = 0.0

    def to_observation(self, item: T, wall_start: float | None) -> Observation:
        """The timeline row for one finished item."""
        raise NotImplementedError

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Feed the chunk; emit the items that became final."""
        if chunk.wall_time is not None:
            self._wall_offset = chunk.wall_time - chunk.start
        if not self._fed:
            self._emitted_until = chunk.start
        return self._emit(self._stream.push(chunk))

    def close(self) -> list[Emit]:
        """Finish what is still open at the end of the source."""
        return self._emit(self._stream.flush())

    def resume_point(self) -> float | None:
        """The start of the oldest audio the stream holds un-emitted (its open window or span).

        A stream that cannot tell is assumed to hold everything since the last emitted item,
        which re-hears more on resume but never loses anything.
        """
        held = getattr(self._stream, "resume_point", None)
        if callable(held):
            point: float | None = held()
            return point
        return self._emitted_until if self._fed else None

    def _emit(self, items: list[T]) -> list[Emit]:
        self._fed = True
        for item in items:
            self._emitted_until = max(self._emitted_until, float(getattr(item, "end", 0.0)))
        offset = self._wall_offset
        return [Emit(self.to_observation(item, None if offset is None else getattr(item, "start", 0.0) + offset))
                for item in items]


@functools.lru_cache(maxsize=1024)
def stored_media_ref(path: str | Path, media_dir: str | Path) -> str | None:
    """:func:`~scenewatch.payloads.media_ref`, remembered: an open row is re-emitted with the same
    thumbnail on every keyframe, and resolving its path costs file-system calls each time."""
    return media_ref(path, media_dir)
