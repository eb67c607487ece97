"""Typed payloads: one schema per observation kind.

``Observation.payload`` carries the detail of a timeline row that has no column of its own
(word times, per-time boxes, attributes, sound label families…). Each kind has exactly one
payload model here; stages build it, the store validates it on write and parses it on read,
and readers (search, reasoning, API, export) use attributes instead of string keys.

Unknown keys are errors (``extra="forbid"``), so a typo in a stage fails where it is made.
Paths (thumbnails) are relative to the media directory of the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Payload(BaseModel):
    """Base of every payload: strict keys, JSON-ready values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The dict stored in the database (defaults and ``None`` left out, to keep rows small)."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


class ScenePayload(Payload):
    """A scene cut."""

    change: float = 0.0


class MotionPayload(Payload):
    """A span of local motion."""

    max_area: float = 0.0
    keyframes: int = 0


class WordPayload(Payload):
    """One recognised word."""

    start: float
    end: float
    word: str
    p: float = 1.0


class SpeechPayload(Payload):
    """A transcript segment."""

    words: list[WordPayload] = Field(default_factory=list)
    language: str | None = None
    language_probability: float | None = None
    speaker: str | None = None


class SoundPayload(Payload):
    """One sound occurrence.

    ``labels`` holds the row's label, its AudioSet ancestors and other strong co-labels, so
    search, triggers and questions can match the family ("Bird" for "Chirp, tweet").
    """

    mid: str | None = None
    score: float = 0.0
    labels: list[str] = Field(default_factory=list)
    mids: list[str] = Field(default_factory=list)


class TextPayload(Payload):
    """A line of scene text seen over a span."""

    readings: int = 0
    variants: list[str] = Field(default_factory=list)
    best_time: float | None = None
    thumbnail: str | None = None
    language: str | None = None


ObjectOrigin = Literal["detector", "arrival", "departure"]


class ObjectPayload(Payload):
    """A tracked object (a detector track, or a class-less arrival/departure).

    ``boxes`` holds ``[t, x1, y1, x2, y2, score]`` samples. Attribute fields are filled by the
    attributes stage when it runs; ``None`` means "not measured".
    """

    concept: str = ""
    concepts: list[str] = Field(default_factory=list)
    boxes: list[list[float]] = Field(default_factory=list)
    thumbnail: str | None = None
    detector: str = ""
    samples: int = 0
    mask_rle: dict[str, Any] | None = None
    origin: ObjectOrigin = "detector"
    label_scores: dict[str, float] = Field(default_factory=dict)
    colour: str | None = None
    colours: list[str] = Field(default_factory=list)
    size_px: float | None = None
    size_frac: float | None = None
    direction: str | None = None
    speed: float | None = None
    dwell: float | None = None
    rest_start: float | None = None
    identity: str | None = None
    identity_score: float | None = None
    posture: str | None = None


class GapPayload(Payload):
    """A stretch of a live source with no data."""

    reason: str = ""


class CaptionPayload(Payload):
    """A model-written description of a span."""

    model: str = ""


PAYLOAD_TYPES: dict[str, type[Payload]] = {
    "scene": ScenePayload,
    "motion": MotionPayload,
    "speech": SpeechPayload,
    "sound": SoundPayload,
    "object": ObjectPayload,
    "text": TextPayload,
    "gap": GapPayload,
    "caption": CaptionPayload,
}


def parse_payload(kind: str, data: Mapping[str, Any] | Payload | None) -> Payload:
    """The typed payload of a row of ``kind``.

    Raises:
        ValueError: the data does not fit the kind's schema (the message names the field).
    """
    cls = PAYLOAD_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown observation kind {kind!r}")
    if isinstance(data, cls):
        return data
    if isinstance(data, Payload):
        raise ValueError(f"a {kind} row cannot carry a {type(data).__name__}")
    try:
        return cls.model_validate(dict(data or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise ValueError(f"{kind} payload: {where}: {first['msg']}") from None


def thumbnail_of(payload: Payload) -> str | None:
    """The thumbnail path a payload names (relative to the media directory), if its kind has one."""
    return payload.thumbnail if isinstance(payload, ObjectPayload | TextPayload) else None


def media_ref(path: str | PathLike[str] | None, source_media_dir: PathLike[str] | str) -> str | None:
    """The path to store for a file a stage wrote under its source's media directory.

    Stages write under ``StageContext.media_dir``, which is ``<media root>/<source folder>``;
    rows store the path relative to the media root (``<source folder>/object-7.jpg``), so a
    database and its media folder can move together. A path outside the media root is kept
    as given (absolute), never silently rewritten to point elsewhere.
    """
    if path is None:
        return None
    file = Path(path)
    root = Path(source_media_dir).parent
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(file)
