"""The contract between the pipeline runner and a perception stage.

A stage is a plain object over items: it receives keyframes and/or audio chunks of one
source and returns :class:`Emit` values. It never touches threads, queues or the store;
the runner does. Stages are registered by name in :data:`scenewatch.runtime.stages.STAGES`
and built with a :class:`StageContext`.

Spans that grow over time (a tracked object, a line of text still visible) are emitted
with a stable ``key`` and ``final=False`` while open; the writer turns repeated emissions
of one key into updates of one row, so triggers and readers see them while they last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from scenewatch.types import AudioChunk, Detections, Keyframe, Observation, SourceInfo

if TYPE_CHECKING:
    from scenewatch.config import Config

StageInput = Literal["keyframe", "audio"]


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
        config: the whole validated config.
        source: the source being processed.
        media_dir: directory for thumbnails/crops of this source (created on demand).
        concepts: the user's plain-word concepts (``--for``).
    """

    config: Config
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


class BaseStage:
    """Convenience base with no-op handlers; subclasses override what they consume."""

    name: ClassVar[str] = "base"
    inputs: ClassVar[frozenset[StageInput]] = frozenset()

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Ignore keyframes unless overridden."""
        return []

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Ignore audio unless overridden."""
        return []

    def close(self) -> list[Emit]:
        """Nothing to finalise unless overridden."""
        return []
