"""The ``sounds`` pipeline stage: sound events into ``sound`` observations."""

from __future__ import annotations

from typing import ClassVar

from scenewatch.payloads import SoundPayload
from scenewatch.perception.sounds import SoundTagger, _stream_for, build_tagger
from scenewatch.perception.stage import StageContext, StreamingAudioStage
from scenewatch.types import Observation, SoundEvent


def sound_observation(event: SoundEvent, source_id: str, wall_start: float | None = None) -> Observation:
    """One ``sound`` timeline row; the label and its family (``labels``) are searchable through FTS."""
    labels = list(event.labels or (event.label,))
    return Observation(
        kind="sound",
        source_id=source_id,
        start=event.start,
        end=event.end,
        label=event.label,
        text="; ".join(labels),
        confidence=min(1.0, max(0.0, event.score)),
        payload=SoundPayload(mid=event.mid, score=event.score, labels=labels, mids=list(event.mids)),
        wall_start=wall_start,
    )


class SoundStage(StreamingAudioStage[SoundEvent]):
    """Tags a source's audio continuously; emits each sound event once it has ended."""

    name: ClassVar[str] = "sounds"

    def __init__(self, ctx: StageContext, tagger: SoundTagger | None = None) -> None:
        """Build the configured tagger (raises BackendUnavailable if it is not installed)."""
        settings = ctx.settings.sounds
        super().__init__(ctx.source.id, _stream_for(tagger or build_tagger(settings), settings, resumable=True))

    def to_observation(self, item: SoundEvent, wall_start: float | None) -> Observation:
        """A ``sound`` row for an event that ended."""
        return sound_observation(item, self.source_id, wall_start)
