"""The ``sounds`` pipeline stage: sound events into ``sound`` observations."""

from __future__ import annotations

from typing import ClassVar

from scenewatch.perception.sounds import SoundTagger, _stream_for, build_tagger
from scenewatch.runtime.stage import BaseStage, Emit, StageContext, StageInput
from scenewatch.types import AudioChunk, Observation, SoundEvent


def sound_observation(event: SoundEvent, source_id: str, wall_start: float | None = None) -> Observation:
    """One ``sound`` timeline row (label searchable through FTS)."""
    return Observation(
        kind="sound",
        source_id=source_id,
        start=event.start,
        end=event.end,
        label=event.label,
        text=event.label,
        confidence=min(1.0, max(0.0, event.score)),
        payload={"mid": event.mid, "score": event.score},
        wall_start=wall_start,
    )


class SoundStage(BaseStage):
    """Tags a source's audio continuously; emits each sound event once it has ended."""

    name: ClassVar[str] = "sounds"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"audio"})

    def __init__(self, ctx: StageContext, tagger: SoundTagger | None = None) -> None:
        """Build the configured tagger (raises BackendUnavailable if it is not installed)."""
        settings = ctx.config.perception.sounds
        self.source_id = ctx.source.id
        self._stream = _stream_for(tagger or build_tagger(settings), settings)
        self._wall_offset: float | None = None

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Score the chunk; emit events that ended."""
        if chunk.wall_time is not None:
            self._wall_offset = chunk.wall_time - chunk.start
        return self._emit(self._stream.push(chunk))

    def close(self) -> list[Emit]:
        """Close events still open at the end of the source."""
        return self._emit(self._stream.flush())

    def _emit(self, events: list[SoundEvent]) -> list[Emit]:
        offset = self._wall_offset
        return [Emit(sound_observation(e, self.source_id, None if offset is None else e.start + offset))
                for e in events]
