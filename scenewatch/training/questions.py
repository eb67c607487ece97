"""Question/answer pairs generated from timeline rows: what, when, where, read, said, how many, which way.

Each :class:`QA` keeps its answer as a template with ``{start}``, ``{end}`` and ``{box}`` fields, because
times are written relative to the clip that is cut later, and boxes in the target trainer's convention
(see :mod:`scenewatch.training.formats`). Questions are phrased from a few templates per type, picked
by a seeded generator, so a model does not learn one fixed wording.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scenewatch.types import Observation

QuestionType = Literal["what", "when", "where", "read", "said", "count", "direction", "answer"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("what", "when", "where", "read", "said", "count", "direction", "answer")
Box = tuple[float, float, float, float]

# Kinds a question can be asked about; scene cuts and gaps say nothing a person would ask.
QUESTION_KINDS = ("object", "text", "speech", "sound", "motion")

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "what_object": ("What object appears in this clip?", "What can be seen here?", "What is in the scene?"),
    "what_sound": ("What sound is heard in this clip?", "What can be heard here?", "Which sound plays?"),
    "when": ("When is the {label} {verb}?", "At what time is the {label} {verb}?", "Between which times is the "
             "{label} {verb}?"),
    "where": ("Where is the {label} at {time} s?", "Locate the {label} at {time} s.", "Give the box of the {label} "
              "at {time} s."),
    "read": ("What does the text in this clip say?", "Read the label.", "What is written here?"),
    "said": ("What was said in this clip?", "What does the speaker say?", "Transcribe the speech."),
    "count": ("How many {label}s appear in this clip?", "Count the {label}s.", "How many {label}s are there?"),
    "direction": ("Which way does the {label} move?", "In which direction is the {label} going?",
                  "Where is the {label} heading?"),
}


@dataclass(frozen=True)
class QA:
    """One question about a clip and its answer template.

    Attributes:
        qtype: the question type.
        question: the question text (times in it are already clip-relative when ``clip_start`` was given).
        answer: the answer with ``{start}``/``{end}`` (clip seconds) and ``{box}`` fields to fill.
        label: what the question is about (for stats and region training).
        start: source time of the answer span.
        end: source time of the answer span.
        box: the box the answer names, frame pixels ``[x1, y1, x2, y2]``.
        box_time: source time the box belongs to.
        observation_ids: the rows the answer rests on.
    """

    qtype: QuestionType
    question: str
    answer: str
    label: str
    start: float
    end: float
    box: Box | None = None
    box_time: float | None = None
    observation_ids: tuple[int, ...] = ()


def payload_field(obs: Observation, name: str) -> Any:
    """A payload field of a row, whether the payload is typed or a plain mapping."""
    payload = obs.payload
    if isinstance(payload, Mapping):
        return payload.get(name)
    return getattr(payload, name, None)


def box_sample(obs: Observation) -> tuple[float, Box] | None:
    """``(time, box)`` that best shows a row: the highest-scoring tracked box, the best OCR reading, or the span box."""
    boxes = payload_field(obs, "boxes") if obs.kind == "object" else None
    if boxes:
        best = max(boxes, key=lambda b: (b[5] if len(b) > 5 else 0.0))
        return float(best[0]), (float(best[1]), float(best[2]), float(best[3]), float(best[4]))
    if obs.box is None:
        return None
    t = payload_field(obs, "best_time") if obs.kind == "text" else None
    return (float(t) if t is not None else obs.start), obs.box


def _pick(rng: random.Random, key: str, **fields: str) -> str:
    return rng.choice(_TEMPLATES[key]).format(**fields)


def questions_for(obs: Observation, rng: random.Random, clip_start: float = 0.0) -> list[QA]:
    """The questions one row answers.

    Args:
        obs: the row (already corrected by a review, if any).
        rng: phrase picker.
        clip_start: source time of the clip start, to phrase times in questions.
    """
    ids = (obs.id,) if obs.id is not None else ()
    label = (obs.label or obs.kind).strip()
    sample = box_sample(obs)
    out: list[QA] = []

    def add(qtype: QuestionType, question: str, answer: str, with_box: bool = False) -> None:
        box, t = (sample[1], sample[0]) if with_box and sample else (None, None)
        out.append(QA(qtype, question, answer, label, obs.start, obs.end, box, t, ids))

    if obs.kind == "object":
        add("what", _pick(rng, "what_object"), f"A {label} {{box}}.", with_box=True)
        add("when", _pick(rng, "when", label=label, verb="visible"), "From {start} s to {end} s.")
        if sample:
            add("where", _pick(rng, "where", label=label, time=f"{sample[0] - clip_start:.1f}"), "{box}", True)
        direction = payload_field(obs, "direction")
        if direction:
            add("direction", _pick(rng, "direction", label=label), f"It moves {direction}.")
    elif obs.kind == "text" and obs.text.strip():
        label = obs.text.strip()  # what a text region "is" is what it says
        add("read", _pick(rng, "read"), f'It reads "{obs.text.strip()}" {{box}}.', with_box=True)
        add("when", _pick(rng, "when", label=f'text "{obs.text.strip()}"', verb="visible"),
            "From {start} s to {end} s.")
    elif obs.kind == "speech" and obs.text.strip():
        add("said", _pick(rng, "said"), f'"{obs.text.strip()}"')
        add("when", _pick(rng, "when", label="speech", verb="heard"), "From {start} s to {end} s.")
    elif obs.kind == "sound":
        add("what", _pick(rng, "what_sound"), f"{label}.")
        add("when", _pick(rng, "when", label=label, verb="heard"), "From {start} s to {end} s.")
    elif obs.kind == "motion" and sample:
        add("where", _pick(rng, "where", label="movement", time=f"{sample[0] - clip_start:.1f}"), "{box}", True)
        add("when", _pick(rng, "when", label="movement", verb="seen"), "From {start} s to {end} s.")
    return out


def count_questions(rows: Sequence[Observation], rng: random.Random) -> list[QA]:
    """"How many" questions over a clip's tracked objects, one per label."""
    tracks = [r for r in rows if r.kind == "object" and r.label]
    counts = Counter(r.label for r in tracks)
    out = []
    for label, n in sorted(counts.items()):
        mine = [r for r in tracks if r.label == label]
        out.append(QA("count", _pick(rng, "count", label=label), f"{n}.", label,
                      min(r.start for r in mine), max(r.end for r in mine),
                      observation_ids=tuple(r.id for r in mine if r.id is not None)))
    return out
