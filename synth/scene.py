"""Synthetic scenes with exact ground truth, and the timeline a noisy perception would write.

A :class:`SceneTruth` says what happens (objects with keyframed boxes, sounds, speech, text on
screen, low-confidence distractors). :func:`perceive` turns it into the rows the perception
stages would commit: one object row per keyframe per visible object (to be merged into spans
by readers), one OCR row per keyframe per visible text (with occasional misreads), one row per
sound event and per speech segment, plus distractor rows under the usual confidence threshold.
Everything is a pure function of the truth and a seed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from scenewatch.types import Observation

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class TruthObject:
    """An object that is visible over ``[start, end)`` and moves along keyframed boxes.

    Attributes:
        id: name of the object in the truth ("car", "person_a").
        label: label the detector writes (COCO name or a user concept, e.g. ``"package"``).
        track_id: id the tracker gives it.
        start: first instant it is visible, seconds.
        end: instant it is gone, seconds.
        path: ``(t, box)`` keyframes; the box is linearly interpolated between them.
        description: what it does, in words (for narratives and docs).
    """

    id: str
    label: str
    track_id: int
    start: float
    end: float
    path: tuple[tuple[float, Box], ...]
    description: str = ""

    def box_at(self, t: float) -> Box | None:
        """Box at time ``t``, or ``None`` when not visible."""
        if not self.start <= t < self.end:
            return None
        box = self._interpolate(t)
        return (max(0.0, box[0]), max(0.0, box[1]), box[2], box[3])

    def _interpolate(self, t: float) -> Box:
        pts = self.path
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, b0), (t1, b1) in itertools.pairwise(pts):
            if t0 <= t <= t1:
                a = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return tuple(round(x0 + a * (x1 - x0), 1) for x0, x1 in zip(b0, b1, strict=True))  # type: ignore[return-value]
        return pts[-1][1]

    @property
    def direction(self) -> str:
        """``left to right``, ``right to left`` or ``still`` from the first and last keyframe."""
        (x0, _, x1, _), (u0, _, u1, _) = self.path[0][1], self.path[-1][1]
        dx = (u0 + u1) / 2 - (x0 + x1) / 2
        if abs(dx) < 20:
            return "still"
        return "left to right" if dx > 0 else "right to left"


@dataclass(frozen=True, slots=True)
class TruthSound:
    """A sound event (AudioSet label) heard over ``[start, end]``."""

    label: str
    start: float
    end: float
    score: float = 0.8


@dataclass(frozen=True, slots=True)
class TruthSpeech:
    """A spoken segment."""

    text: str
    start: float
    end: float
    language: str = "en"


@dataclass(frozen=True, slots=True)
class TruthText:
    """Text visible over ``[start, end)`` at ``box`` (optionally written on an object)."""

    text: str
    start: float
    end: float
    box: Box
    on_object: str | None = None


@dataclass(frozen=True, slots=True)
class Distractor:
    """A spurious low-confidence perception at one instant (the 0.14 "dog")."""

    kind: str
    label: str
    t: float
    confidence: float
    box: Box | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class SceneTruth:
    """Everything that happens in a synthetic scene."""

    name: str
    source_id: str
    duration: float
    width: int
    height: int
    objects: tuple[TruthObject, ...] = ()
    sounds: tuple[TruthSound, ...] = ()
    speech: tuple[TruthSpeech, ...] = ()
    texts: tuple[TruthText, ...] = ()
    distractors: tuple[Distractor, ...] = ()
    description: str = ""

    def objects_labelled(self, label: str) -> list[TruthObject]:
        """Objects whose detector label is ``label``."""
        return [o for o in self.objects if o.label == label]


@dataclass(frozen=True, slots=True)
class PerceptionNoise:
    """How imperfect the simulated perception is.

    Attributes:
        keyframe_step: seconds between keyframes (object and OCR rows are written per keyframe).
        box_jitter: max pixels each box side moves.
        miss_rate: chance an object is missed on an inner keyframe (never two in a row).
        ocr_error_rate: chance an OCR reading has one wrong character.
        conf_range: detector confidence range for true objects.
    """

    keyframe_step: float = 0.5
    box_jitter: float = 3.0
    miss_rate: float = 0.08
    ocr_error_rate: float = 0.15
    conf_range: tuple[float, float] = (0.55, 0.95)


@dataclass(frozen=True, slots=True)
class SyntheticScene:
    """A scene's truth and the observations a noisy perception writes for it."""

    truth: SceneTruth
    observations: tuple[Observation, ...]
    noise: PerceptionNoise = field(default_factory=PerceptionNoise)


_OCR_CONFUSIONS = {"I": "l", "O": "0", "S": "5", "B": "8", "E": "F", "A": "4", "M": "N", "T": "7"}


def _misread(text: str, rng: random.Random) -> str:
    idx = [i for i, c in enumerate(text) if c.upper() in _OCR_CONFUSIONS]
    if not idx:
        return text
    i = rng.choice(idx)
    return text[:i] + _OCR_CONFUSIONS[text[i].upper()] + text[i + 1:]


def _jitter(box: Box, amount: float, rng: random.Random, width: int, height: int) -> Box:
    x1, y1, x2, y2 = (v + rng.uniform(-amount, amount) for v in box)
    return (round(max(0.0, x1), 1), round(max(0.0, y1), 1), round(min(width, x2), 1), round(min(height, y2), 1))


def keyframe_times(duration: float, step: float) -> list[float]:
    """Keyframe instants ``0, step, 2·step, …`` before ``duration``."""
    n = int(duration / step + 1e-9)
    return [round(i * step, 3) for i in range(n + 1) if i * step < duration]


def perceive(truth: SceneTruth, seed: int = 0, noise: PerceptionNoise | None = None,
             extra: Sequence[Observation] = ()) -> SyntheticScene:
    """Write the timeline rows a perfect-but-noisy perception would write for ``truth``.

    Args:
        truth: the scene.
        seed: random seed for jitter, misses and misreads.
        noise: noise model (defaults: 0.5 s keyframes, 3 px jitter, 8 % misses, 15 % misreads).
        extra: more rows to append (e.g. injected text for guard tests).

    Returns:
        The scene with its observations, in time order.
    """
    noise = noise or PerceptionNoise()
    rng = random.Random(seed)
    step = noise.keyframe_step
    rows: list[Observation] = []
    src = truth.source_id
    times = keyframe_times(truth.duration, step)
    for obj in truth.objects:
        visible = [t for t in times if obj.box_at(t) is not None]
        missed_prev = False
        for i, t in enumerate(visible):
            inner = 0 < i < len(visible) - 1
            if inner and not missed_prev and rng.random() < noise.miss_rate:
                missed_prev = True
                continue
            missed_prev = False
            box = obj.box_at(t)
            assert box is not None
            rows.append(Observation(
                kind="object", source_id=src, start=t, end=round(min(t + step, truth.duration), 3),
                label=obj.label, confidence=round(rng.uniform(*noise.conf_range), 3),
                box=_jitter(box, noise.box_jitter, rng, truth.width, truth.height), track_id=obj.track_id,
            ))
    for txt in truth.texts:
        for t in times:
            if not txt.start <= t < txt.end:
                continue
            reading = _misread(txt.text, rng) if rng.random() < noise.ocr_error_rate else txt.text
            rows.append(Observation(
                kind="text", source_id=src, start=t, end=round(min(t + step, truth.duration), 3),
                label="text", text=reading, confidence=round(rng.uniform(0.75, 0.98), 3),
                box=_jitter(txt.box, 1.5, rng, truth.width, truth.height),
            ))
    for snd in truth.sounds:
        rows.append(Observation(
            kind="sound", source_id=src, start=round(snd.start + rng.uniform(0, 0.2), 2),
            end=round(snd.end - rng.uniform(0, 0.2), 2), label=snd.label, confidence=snd.score,
        ))
    for sp in truth.speech:
        rows.append(Observation(
            kind="speech", source_id=src, start=sp.start, end=sp.end, label="speech", text=sp.text,
            confidence=round(rng.uniform(0.8, 0.95), 3), payload={"language": sp.language},
        ))
    for d in truth.distractors:
        rows.append(Observation(
            kind=d.kind,  # type: ignore[arg-type]
            source_id=src, start=d.t, end=round(d.t + step, 3), label=d.label, text=d.text,
            confidence=d.confidence, box=d.box, track_id=900 + len(rows) if d.kind == "object" else None,
        ))
    rows.extend(extra)
    rows.sort(key=lambda o: (o.start, o.kind, o.label))
    return SyntheticScene(truth=truth, observations=tuple(rows), noise=noise)
