"""The few typed values every stage speaks.

All times are seconds on the source's media timeline (``pts``); live sources also carry
``wall_time`` (Unix seconds) for the same instant. Arrays are numpy and validated on
construction, so a bad shape fails where it is made, not three stages later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from scenewatch.payloads import Payload, parse_payload

ObservationKind = Literal["scene", "motion", "speech", "sound", "object", "text", "gap", "caption"]
OBSERVATION_KINDS: tuple[str, ...] = ObservationKind.__args__  # type: ignore[attr-defined]

AUDIO_SAMPLE_RATE = 16_000


def _check_time(name: str, start: float, end: float) -> None:
    if not (np.isfinite(start) and np.isfinite(end)):
        raise ValueError(f"{name}: times must be finite, got {start}..{end}")
    if end < start:
        raise ValueError(f"{name}: end {end} is before start {start}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    Attributes:
        image: ``H×W×3`` uint8 RGB pixels.
        pts: presentation time in seconds on the source timeline.
        source_id: id of the source in the store.
        index: decode order of the frame within the source (0-based).
        wall_time: Unix time the frame was captured (live sources), else ``None``.
    """

    image: NDArray[np.uint8]
    pts: float
    source_id: str
    index: int = 0
    wall_time: float | None = None

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"Frame.image must be HxWx3 uint8, got {getattr(img, 'shape', type(img))}")
        if not np.isfinite(self.pts):
            raise ValueError("Frame.pts must be finite")

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A frame chosen by the keyframe sampler, with why it was chosen.

    Attributes:
        frame: the decoded frame.
        reason: ``"scene"`` (a cut), ``"change"`` (local change) or ``"floor"`` (steady rate).
        change: mean absolute difference to the previous keyframe, 0..1.
        changed_boxes: ``K×4`` float32 xyxy pixel boxes of regions that changed.
    """

    frame: Frame
    reason: Literal["first", "scene", "change", "floor"]
    change: float = 0.0
    changed_boxes: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    def __post_init__(self) -> None:
        if self.changed_boxes.ndim != 2 or self.changed_boxes.shape[1] != 4:
            raise ValueError("Keyframe.changed_boxes must be Kx4")


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono float32 audio at 16 kHz, aligned to the video timeline.

    Attributes:
        samples: 1-D float32 samples in [-1, 1].
        start: media time of the first sample, seconds.
        source_id: id of the source.
        sample_rate: always 16000 after ingest.
        wall_time: Unix time of the first sample (live sources), else ``None``.
    """

    samples: NDArray[np.float32]
    start: float
    source_id: str
    sample_rate: int = AUDIO_SAMPLE_RATE
    wall_time: float | None = None

    def __post_init__(self) -> None:
        s = self.samples
        if not isinstance(s, np.ndarray) or s.dtype != np.float32 or s.ndim != 1:
            raise ValueError(f"AudioChunk.samples must be 1-D float32, got {getattr(s, 'dtype', type(s))}")
        if self.sample_rate <= 0:
            raise ValueError("AudioChunk.sample_rate must be positive")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        """Media time just after the last sample."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Detections:
    """Boxes (and optional masks) found in one frame.

    Attributes:
        xyxy: ``N×4`` float32 pixel boxes ``[x1, y1, x2, y2]``.
        scores: ``N`` float32 confidences in [0, 1].
        labels: ``N`` label strings (detector vocabulary, e.g. COCO names).
        track_ids: ``N`` int64 track ids, ``-1`` where untracked.
        masks: optional ``N×H×W`` bool masks.
        concepts: ``N`` user concepts each box answers ("package"), or ``""``.
    """

    xyxy: NDArray[np.float32]
    scores: NDArray[np.float32]
    labels: tuple[str, ...]
    track_ids: NDArray[np.int64] | None = None
    masks: NDArray[np.bool_] | None = None
    concepts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.xyxy.shape != (n, 4) or self.xyxy.dtype != np.float32:
            raise ValueError(f"Detections.xyxy must be float32 Nx4 with N={n}, got {self.xyxy.shape}")
        if self.scores.shape != (n,) or self.scores.dtype != np.float32:
            raise ValueError("Detections.scores must be float32 with one score per box")
        if self.track_ids is None:
            object.__setattr__(self, "track_ids", np.full(n, -1, np.int64))
        elif self.track_ids.shape != (n,):
            raise ValueError("Detections.track_ids must have one id per box")
        if self.masks is not None and (self.masks.ndim != 3 or self.masks.shape[0] != n):
            raise ValueError("Detections.masks must be NxHxW")
        if self.concepts is None:
            object.__setattr__(self, "concepts", ("",) * n)
        elif len(self.concepts) != n:
            raise ValueError("Detections.concepts must have one entry per box")

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), ())

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Sequence[int] | NDArray[Any]) -> Detections:
        """Rows selected by an integer index or boolean mask."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        assert self.track_ids is not None and self.concepts is not None
        return Detections(
            xyxy=self.xyxy[idx],
            scores=self.scores[idx],
            labels=tuple(self.labels[i] for i in idx),
            track_ids=self.track_ids[idx],
            masks=None if self.masks is None else self.masks[idx],
            concepts=tuple(self.concepts[i] for i in idx),
        )


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its media-time span."""

    start: float
    end: float
    word: str
    probability: float = 1.0

    def __post_init__(self) -> None:
        _check_time("Word", self.start, self.end)


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A span of recognised speech."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    confidence: float = 1.0
    speaker: str | None = None

    def __post_init__(self) -> None:
        _check_time("TranscriptSegment", self.start, self.end)


@dataclass(frozen=True, slots=True)
class SoundEvent:
    """A non-speech sound heard between ``start`` and ``end``."""

    start: float
    end: float
    label: str
    score: float
    mid: str | None = None
    labels: tuple[str, ...] = ()
    """``label``, its AudioSet ancestors and other strong co-labels of the same occurrence."""
    mids: tuple[str, ...] = ()
    """AudioSet mids of ``labels`` where known, in the same order."""

    def __post_init__(self) -> None:
        _check_time("SoundEvent", self.start, self.end)


@dataclass(frozen=True, slots=True)
class TextRegion:
    """Text read in a frame.

    Attributes:
        text: the reading.
        box: ``[x1, y1, x2, y2]`` float32 pixels in the frame.
        score: recogniser confidence, 0..1.
        polygon: optional ``K×2`` float32 outline (rotated text).
        language: language code when known.
    """

    text: str
    box: NDArray[np.float32]
    score: float
    polygon: NDArray[np.float32] | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        if self.box.shape != (4,):
            raise ValueError("TextRegion.box must be [x1, y1, x2, y2]")


@dataclass(frozen=True, slots=True)
class Embedding:
    """A vector for an observation, image, region or text, tagged with its model."""

    vector: NDArray[np.float32]
    model: str

    def __post_init__(self) -> None:
        if self.vector.ndim != 1 or self.vector.dtype != np.float32:
            raise ValueError("Embedding.vector must be 1-D float32")

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.vector.shape[0])


@dataclass(frozen=True, slots=True)
class Observation:
    """One row of the timeline: something perceived over a span of media time.

    Attributes:
        kind: what stage saw it (``speech``, ``sound``, ``object``, ``text``, ``scene``…).
        source_id: the source it came from.
        start: media time it began, seconds.
        end: media time it ended, seconds.
        label: short label (object class, sound class, "scene change").
        text: searchable text (transcript, OCR reading), may be empty.
        confidence: 0..1.
        box: optional ``[x1, y1, x2, y2]`` pixels (representative box).
        track_id: tracker id for objects, else ``None``.
        payload: the kind's typed detail (:mod:`scenewatch.payloads`: words, per-time boxes,
            thumbnail path…). A plain mapping is accepted and parsed, so a bad key or value
            fails here, where the row is made.
        wall_start: Unix time of ``start`` for live sources.
        id: store row id, ``None`` until stored.
    """

    kind: ObservationKind
    source_id: str
    start: float
    end: float
    label: str = ""
    text: str = ""
    confidence: float = 1.0
    box: tuple[float, float, float, float] | None = None
    track_id: int | None = None
    payload: Payload = None  # type: ignore[assignment]  # None becomes the kind's empty payload
    wall_start: float | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in OBSERVATION_KINDS:
            raise ValueError(f"unknown observation kind {self.kind!r}")
        object.__setattr__(self, "payload", parse_payload(self.kind, self.payload))
        _check_time("Observation", self.start, self.end)
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Observation.confidence must be in [0, 1], got {self.confidence}")
        if self.box is not None and len(self.box) != 4:
            raise ValueError("Observation.box must have 4 numbers")


@dataclass(frozen=True, slots=True)
class Event:
    """A trigger that fired, with the observations that made it fire."""

    rule: str
    source_id: str
    start: float
    end: float
    observation_ids: tuple[int, ...] = ()
    title: str = ""
    summary: str = ""
    severity: Literal["info", "warning", "critical"] = "info"
    payload: Mapping[str, Any] = field(default_factory=dict)
    wall_time: float | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        _check_time("Event", self.start, self.end)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A cited observation in an answer; times and box come from the store, not a model."""

    observation_id: int
    kind: str
    start: float
    end: float
    box: tuple[float, float, float, float] | None = None
    source_id: str = ""
    wall_start: float | None = None
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply to a question, grounded in cited evidence."""

    text: str
    evidence: tuple[Evidence, ...] = ()
    refused: bool = False


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source is: where it comes from and what streams it has.

    Attributes:
        id: stable id (same file or URL gives the same id, so ingest can resume).
        uri: path or URL as given (resolved for files).
        kind: ``file``, ``live`` or ``device``.
        duration: seconds, ``None`` for live sources.
        width: video width in pixels (0 without video).
        height: video height in pixels (0 without video).
        fps: average video frame rate (0 without video).
        video_codec: codec name, or ``None``.
        audio_codec: codec name, or ``None``.
        audio_channels: channel count of the original audio track (0 without audio).
        audio_rate: sample rate of the original audio track (0 without audio).
    """

    id: str
    uri: str
    kind: Literal["file", "live", "device"]
    duration: float | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_channels: int = 0
    audio_rate: int = 0

    @property
    def has_video(self) -> bool:
        """Whether the source has a decodable video stream."""
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        """Whether the source has an audio stream."""
        return self.audio_codec is not None
