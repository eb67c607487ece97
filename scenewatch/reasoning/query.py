"""The typed query a question is planned into, and the vocabulary that resolves its subjects.

A subject is what a question is about ("the package", "the doorbell", "someone saying help"),
resolved onto what the store can hold: observation kinds, labels (COCO objects, AudioSet
sounds, user concepts) and phrases to find in OCR text or speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Intent = Literal["when", "what", "what-text", "what-said", "count", "duration", "order", "yes-no", "describe"]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]
Moment = Literal["first", "last", "all"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a question is about, mapped onto the store.

    Attributes:
        term: the user's word ("package", "someone").
        name: the concept's display name ("package", "person", "doorbell").
        kinds: observation kinds to look in.
        labels: labels that count as this subject (lower-case); empty = any label of those kinds.
        phrase: words that must occur in the row's text (speech or OCR), or ``None``.
    """

    term: str
    name: str
    kinds: tuple[str, ...]
    labels: tuple[str, ...] = ()
    phrase: str | None = None


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
        detail: an aspect of the subject asked about (``direction`` of motion).
        last_seconds: window "in the last N seconds", resolved against the end of the timeline.
        planner: ``rules`` or ``model``.
        unresolved: words the question asks about that map onto nothing perception can write.
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
    detail: Literal["direction"] | None = None
    last_seconds: float | None = None
    planner: str = "rules"
    unresolved: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Concept:
    """A thing users ask about, with the words they use and the labels perception writes."""

    name: str
    kinds: tuple[str, ...]
    labels: tuple[str, ...]
    words: tuple[str, ...]
    noun: str = ""
    owner: str | None = None


CONCEPTS: tuple[Concept, ...] = (
    Concept("person", ("object",), ("person",),
            ("person", "people", "persons", "someone", "somebody", "anyone", "anybody", "man", "men", "woman",
             "women", "visitor", "visitors", "courier", "guy", "he", "she", "they", "worker", "pedestrian",
             "human", "humans"), "person"),
    Concept("package", ("object",), ("package", "parcel", "box", "suitcase"),
            ("package", "packages", "parcel", "parcels", "box", "delivery", "delivered", "deliveries"), "package"),
    Concept("car", ("object",), ("car",), ("car", "cars", "vehicle", "vehicles", "auto"), "car"),
    Concept("truck", ("object",), ("truck",), ("truck", "trucks", "lorry", "van"), "truck"),
    Concept("bicycle", ("object",), ("bicycle",), ("bicycle", "bicycles", "bike", "bikes", "cyclist"), "bicycle"),
    Concept("dog", ("object",), ("dog",), ("dog", "dogs", "puppy"), "dog"),
    Concept("cat", ("object",), ("cat",), ("cat", "cats", "kitten"), "cat"),
    Concept("ball", ("object",), ("sports ball", "ball"), ("ball", "balls", "circle"), "ball"),
    Concept("laptop", ("object",), ("laptop",), ("laptop", "laptops", "computer", "notebook"), "laptop"),
    Concept("doorbell", ("sound",), ("doorbell", "ding-dong"),
            ("doorbell", "door bell", "bell", "ding-dong", "chime"), "doorbell", owner="person"),
    Concept("car horn", ("sound",), ("vehicle horn, car horn, honking", "car horn", "honk", "vehicle horn"),
            ("car horn", "horn", "honk", "honked", "honking", "hooted"), "car horn", owner="car"),
    Concept("bark", ("sound",), ("bark", "dog", "bow-wow", "yip"), ("bark", "barked", "barking", "barks"), "barking",
            owner="dog"),
    Concept("phone", ("sound",), ("telephone bell ringing", "telephone", "ringtone"),
            ("phone", "telephone", "ringtone"), "phone ringing"),
    Concept("knock", ("sound",), ("knock",), ("knock", "knocked", "knocking", "knocks"), "knock", owner="person"),
    Concept("siren", ("sound",), ("siren", "police car (siren)", "ambulance (siren)"), ("siren", "sirens"), "siren"),
    Concept("alarm", ("sound",), ("alarm", "alarm clock", "smoke detector, smoke alarm"), ("alarm", "alarms"),
            "alarm"),
    Concept("glass", ("sound",), ("glass", "shatter", "breaking"), ("glass", "shatter", "shattered", "broke"),
            "breaking glass"),
    Concept("speech", ("speech",), (), ("speech", "said", "say", "says", "spoke", "speak", "speaking", "talk",
                                         "talked", "talking", "voice", "remark", "mention", "mentioned"), "speech",
            owner="person"),
    Concept("text", ("text",), (), ("text", "label", "sign", "written", "writing", "plate", "license",
                                     "whiteboard", "board", "note", "screen", "reads", "read"), "text"),
)

#: Words of the text concept that name a thing text is written on (for "the label on the package").
TEXT_CARRIERS = {"label": "package", "plate": "car", "license": "car"}
