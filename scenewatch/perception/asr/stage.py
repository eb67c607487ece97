"""The ``speech`` pipeline stage: live transcription into ``speech`` observations."""

from __future__ import annotations

from typing import ClassVar

from scenewatch.perception.asr import Transcriber, build_transcriber
from scenewatch.perception.asr.streaming import StreamingTranscriber
from scenewatch.runtime.stage import BaseStage, Emit, StageContext, StageInput
from scenewatch.types import AudioChunk, Observation, TranscriptSegment


def segment_observation(segment: TranscriptSegment, source_id: str, wall_start: float | None = None) -> Observation:
    """One ``speech`` timeline row for a transcript segment (text searchable through FTS)."""
    payload: dict[str, object] = {
        "words": [
            {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word, "p": round(w.probability, 3)}
            for w in segment.words
        ],
        "language": segment.language,
    }
    if segment.speaker is not None:
        payload["speaker"] = segment.speaker
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


class SpeechStage(BaseStage):
    """Transcribes a source's audio as it arrives; emits each segment once it is final.

    Segments finalise when the streaming window moves past them (``perception.asr.chunk_seconds``,
    ``overlap_seconds``), so a live source sees its transcript with that much delay.
    """

    name: ClassVar[str] = "speech"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"audio"})

    def __init__(self, ctx: StageContext, transcriber: Transcriber | None = None) -> None:
        """Build the configured transcriber (raises BackendUnavailable if it is not installed)."""
        settings = ctx.config.perception.asr
        self.source_id = ctx.source.id
        self._stream = StreamingTranscriber(transcriber or build_transcriber(settings), settings)
        self._wall_offset: float | None = None  # wall_time - media time, for live sources

    def on_audio(self, chunk: AudioChunk) -> list[Emit]:
        """Buffer the chunk; emit segments that became final."""
        if chunk.wall_time is not None:
            self._wall_offset = chunk.wall_time - chunk.start
        return self._emit(self._stream.push(chunk))

    def close(self) -> list[Emit]:
        """Transcribe what is still buffered."""
        return self._emit(self._stream.flush())

    def _emit(self, segments: list[TranscriptSegment]) -> list[Emit]:
        out = []
        for seg in segments:
            wall = None if self._wall_offset is None else seg.start + self._wall_offset
            out.append(Emit(segment_observation(seg, self.source_id, wall)))
        return out
