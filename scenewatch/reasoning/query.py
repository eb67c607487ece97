"""The typed query a question is planned into.

A subject is what a question is about ("the package", "the doorbell", "someone saying help"),
resolved through the one vocabulary (:mod:`scenewatch.vocabulary`) onto what the store can hold:
observation kinds, labels (COCO objects, AudioSet sounds), arrivals, and phrases to find in OCR
text or speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scenewatch.types import Observation
from scenewatch.vocabulary.concepts import Targets

Intent = Literal["when", "what", "what-text", "what-said", "count", "duration", "order", "yes-no", "describe",
                 "attribute", "who", "unusual"]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]
Moment = Literal["first", "last", "all"]
Detail = Literal["direction", "colour", "size", "speed"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a question is about, mapped onto the store.

    Attributes:
        term: the user's word ("package", "someone").
        name: the concept's display name ("package", "person", "doorbell").
        kinds: observation kinds to look in.
        labels: labels that count as this subject (lower-case); empty = any label of those kinds.
        phrase: words that must occur in the row's text (speech or OCR), or ``None``.
        targets: the vocabulary's targets when the subject is a concept (they decide which rows
            count, arrivals included); ``None`` for a bare store label.
    """

    term: str
    name: str
    kinds: tuple[str, ...]
    labels: tuple[str, ...] = ()
    phrase: str | None = None
    targets: Targets | None = None

    def admits(self, o: Observation) -> bool:
        """Whether row ``o`` is this subject (the phrase is checked separately)."""
        if o.kind not in self.kinds:
            return False
        if self.targets is not None:
            return self.targets.admits(o)
        return not self.labels or o.label.lower() in self.labels


@dataclass(frozen=True, slots=True)
class Query:
    """A question as a typed query.

    Attributes:
        question: the question as asked.
        intent: what kind of answer is wanted.
        subjects: what it is about, in the order mentioned.
        moment: for ``when``: the first appearance, the last, or every span.
        since: start of the time window (media seconds), or ``None``.
        until: end of the time window, or ``None``.
        source_id: restrict to one source, or ``None`` for all.
        polar: the question expects yes/no (``order`` questions may be polar too).
        then: a second query joined by "and" ("when … and what does the label say?").
        relation: for polar ``order`` questions, the order asked about ("did A happen *before* B?").
        detail: an aspect of the subject asked about (``direction`` of motion, ``colour``, ``size``,
            ``speed``); the ``attribute`` intent answers it.
        last_seconds: window "in the last N seconds", resolved against the end of the timeline.
        planner: ``rules`` or ``model``.
        unresolved: words the question asks about that map onto nothing perception can write.
        still: a polar departure question asks whether the subject is *still there* (a departure
            answers "no"), not whether it was taken.
        sources: sources a question names ("on the driveway camera"); rows of other sources are
            left out. Empty: ``source_id`` (or the whole store).
        wall_since: start of a wall-clock range ("this morning"), Unix seconds, or ``None``; only
            rows with ``wall_start`` inside ``[wall_since, wall_until)`` count.
        wall_until: end of that range.
        wall_phrase: the words that named the range, for "what was checked".
    """

    question: str
    intent: Intent
    subjects: tuple[Subject, ...] = ()
    moment: Moment = "first"
    since: float | None = None
    until: float | None = None
    source_id: str | None = None
    polar: bool = False
    then: Query | None = None
    relation: Literal["before", "after"] | None = None
    detail: Detail | None = None
    last_seconds: float | None = None
    planner: str = "rules"
    unresolved: tuple[str, ...] = field(default_factory=tuple)
    still: bool = False
    sources: tuple[str, ...] = ()
    wall_since: float | None = None
    wall_until: float | None = None
    wall_phrase: str = ""
