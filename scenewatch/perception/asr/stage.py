"""The ``speech`` pipeline stage: live transcription into ``speech`` observations."""

from __future__ import annotations

from typing import ClassVar

from scenewatch.payloads import SpeechPayload, WordPayload
from scenewatch.perception.asr import Transcriber, build_transcriber
from scenewatch.perception.asr.streaming import StreamingTranscriber
from scenewatch.perception.stage import StageContext, StreamingAudioStage
from scenewatch.types import Observation, TranscriptSegment


def segment_observation(segment: TranscriptSegment, source_id: str, wall_start: float | None = None) -> Observation:
    """One ``speech`` timeline row for a transcript segment (text searchable through FTS)."""
    payload = SpeechPayload(
        words=[WordPayload(start=round(w.start, 3), end=round(w.end, 3), word=w.word, p=round(w.probability, 3))
               for w in segment.words],
        language=segment.language,
        speaker=segment.speaker,
    )
    return Observation(
        kind="speech",
        source_id=source_id,
        start=segment.start,
        end=segment.end,
        label="speech",
        text=segment.text,
        confidence=min(1.0, max(0.0, segment.confidence)),
        payload=payload,
        wall_start=wall_start,
    )


class SpeechStage(StreamingAudioStage[TranscriptSegment]):
    """Transcribes a source's audio as it arrives; emits each segment once it is final.

    Segments finalise when the streaming window moves past them (``perception.asr.chunk_seconds``,
    ``overlap_seconds``), so a live source sees its transcript with that much delay.
    """

    name: ClassVar[str] = "speech"

    def __init__(self, ctx: StageContext, transcriber: Transcriber | None = None) -> None:
        """Build the configured transcriber (raises BackendUnavailable if it is not installed)."""
        settings = ctx.settings.asr
        super().__init__(ctx.source.id, StreamingTranscriber(transcriber or build_transcriber(settings), settings))

    def to_observation(self, item: TranscriptSegment, wall_start: float | None) -> Observation:
        """A ``speech`` row for a final segment."""
        return segment_observation(item, self.source_id, wall_start)
