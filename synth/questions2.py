"""Randomised front-door scenes with measured attributes, and ≥150 questions answered from their truth.

:func:`make_scene` draws a scene from a seed: a ball of a random colour crossing the frame,
cars passing (routine), a parcel that arrives as a class-less arrival, its label read in growing
fragments before the whole line, maybe taken later, a doorbell with or without a person near
it, speech, and now and then a rare event (a dog, breaking glass). The rows are what the
objects/attributes, arrivals, OCR, sound and speech stages write (typed payloads included),
with perception noise (jitter, misses, misread colours and letters).

:func:`question_set` asks each scene about colour, direction, speed, arrival/departure, dwell,
the label, who rang the bell, what happened, anything unusual and what was said, each in a
canonical and several natural phrasings (typos and indirect questions included); the expected
answers come from the truth. Score with :func:`synth.questions.score`.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from scenewatch.memory.store import TimelineStore
from scenewatch.payloads import ObjectPayload
from scenewatch.types import Observation, SourceInfo
from synth.questions import Expect, score

W, H = 640, 360
COLOURS = ("red", "blue", "green", "yellow", "orange", "purple", "white", "black")
LABELS = ("KEEP REFRIGERATED", "FRAGILE HANDLE WITH CARE", "THIS SIDE UP", "PERISHABLE GOODS", "DO NOT BEND",
          "PRIORITY MAIL EXPRESS", "LIVE PLANTS INSIDE")
RARE = (("object", "dog"), ("sound", "Glass"), ("object", "horse"), ("sound", "Siren"))
# (sentence, a question about its meaning that shares no content word with it); the first half
# tuned scenewatch.reasoning.meaning's threshold, the second half was not looked at while tuning
SPEECH = (
    ("The war led me to leave my native country", "did anyone mention their homeland?"),
    ("I could not sleep because the baby cried all night", "did someone talk about an infant?"),
    ("My doctor says I have to stop eating sugar", "did anyone mention their physician?"),
    ("The rain ruined our picnic in the park", "did anyone talk about the weather?"),
    ("Our cat knocked the vase off the shelf again", "did anyone mention a pet?"),
    ("I missed the train and had to walk to the office", "did someone talk about their commute?"),
    ("She plays the violin in the city orchestra", "did anyone talk about music?"),
    ("We are flying to Spain for our holidays next month", "did anyone mention a vacation?"),
    ("The mechanic said the engine needs new oil", "did someone talk about a car repair?"),
    ("My grandmother baked bread for the whole family", "did anyone mention cooking?"),
)



@dataclass(frozen=True, slots=True)
class Truth2:
    """What happened in one scene (times in seconds)."""

    seed: int
    source_id: str
    duration: float
    ball_colour: str
    ball_direction: str
    ball_span: tuple[float, float]
    ball_speed: float
    parcel_arrival: float
    parcel_departure: float | None
    parcel_last_seen: float
    label: str
    bell: float
    person_near: tuple[float, float] | None
    speech: str
    speech_question: str
    rare: tuple[str, str]
    rare_at: float
    cars: int


@dataclass(frozen=True, slots=True)
class Scene2:
    """A scene's truth and its rows."""

    truth: Truth2
    observations: tuple[Observation, ...]


def _obj(src: str, t: float, box: tuple[float, ...], label: str, conf: float, track: int | None,
         payload: ObjectPayload, text: str = "") -> Observation:
    return Observation(kind="object", source_id=src, start=round(t, 2), end=round(t + 0.5, 2), label=label,
                       confidence=round(conf, 3), box=(box[0], box[1], box[2], box[3]), track_id=track,
                       text=text or label, payload=payload)


def make_scene(seed: int, *, ball_colour: str | None = None, label: str | None = None, taken: bool | None = None,
               person_near: bool | None = None, speech: int | None = None, person_name: str | None = None) -> Scene2:
    """One randomised scene and the rows a noisy perception writes for it.

    The keyword arguments pin one drawn value (for regression scenes); everything else stays random.
    ``person_name`` writes the faces stage's ``identity`` on the person's rows.
    """
    rng = random.Random(seed)
    src = f"synth2-{seed}"
    duration = float(rng.randint(50, 80))
    rows: list[Observation] = []
    # the ball crosses the frame
    colour = rng.choice(COLOURS)
    colour = ball_colour or colour
    l2r = rng.random() < 0.5
    b0 = rng.uniform(1, duration - 20)
    b1 = b0 + rng.uniform(3, 8)
    speed = (W - 80) / (b1 - b0)
    t = b0
    while t < b1:
        a = (t - b0) / (b1 - b0)
        x = 20 + a * (W - 80) if l2r else W - 60 - a * (W - 80)
        y = 250 + rng.uniform(-3, 3)
        seen = colour if rng.random() > 0.15 else rng.choice(COLOURS)
        rows.append(_obj(src, t, (x, y, x + 40, y + 40), "sports ball", rng.uniform(0.6, 0.95), 1,
                         ObjectPayload(colour=seen, direction="left to right" if l2r else "right to left",
                                       speed=round(speed * rng.uniform(0.9, 1.1), 1), size_frac=0.007)))
        t += 0.5
    # routine cars
    cars = rng.randint(3, 5)
    for i in range(cars):
        c0 = rng.uniform(0, duration - 6)
        for k in range(rng.randint(4, 8)):
            x = 600 - k * 80
            rows.append(_obj(src, c0 + 0.5 * k, (x, 40, x + 120, 100), "car", rng.uniform(0.6, 0.9), 10 + i,
                             ObjectPayload(colour=rng.choice(COLOURS), direction="right to left")))
    # the parcel: a class-less arrival, its label read in fragments, maybe taken
    arrive = rng.uniform(5, duration / 2)
    drawn_taken = rng.random() < 0.6
    taken = drawn_taken if taken is None else taken
    depart = rng.uniform(arrive + 12, duration - 2) if taken else None
    last = (depart - 0.5) if depart is not None else duration
    px, py = rng.uniform(250, 420), rng.uniform(180, 230)
    pbox = (px, py, px + 110, py + 80)
    rows.append(Observation(kind="object", source_id=src, start=round(arrive, 2), end=round(last, 2), label="object",
                            confidence=0.8, box=pbox, track_id=100000, text="object (arrived, brown)",
                            payload=ObjectPayload(origin="arrival", colour="brown", dwell=round(last - arrive, 2),
                                                  rest_start=round(arrive, 2), size_frac=0.04, direction="still")))
    if depart is not None:
        rows.append(Observation(kind="object", source_id=src, start=round(depart, 2), end=round(depart, 2),
                                label="object", confidence=0.8, box=pbox, text="object (gone, brown)",
                                payload=ObjectPayload(origin="departure", colour="brown")))
    label = label or rng.choice(LABELS)
    t = arrive + 0.5
    k = 0
    while t < last:
        if k < 2:  # the reader first catches part of the line
            reading = label[: max(2, len(label) * (k + 1) // 4)]
            lbox = (px + 10, py + 30, px + 10 + 90 * len(reading) / len(label), py + 42)
        else:
            reading = label if rng.random() > 0.15 else label.replace("E", "F", 1)
            lbox = (px + 10, py + 30, px + 100, py + 42)
        rows.append(Observation(kind="text", source_id=src, start=round(t, 2), end=round(t + 0.5, 2), label="text",
                                text=reading, confidence=round(rng.uniform(0.75, 0.95), 3), box=lbox))
        t += 0.5
        k += 1
    # the doorbell, with or without someone near it
    bell = rng.uniform(3, duration - 10)
    rows.append(Observation(kind="sound", source_id=src, start=round(bell, 2), end=round(bell + 1.5, 2),
                            label="Doorbell", confidence=0.8))
    person: tuple[float, float] | None = None
    near = rng.random() < 0.6
    if near if person_near is None else person_near:
        p0 = max(0.0, bell - rng.uniform(2, 6))
        person = (p0, min(duration, bell + rng.uniform(3, 8)))
        t = person[0]
        while t < person[1]:
            rows.append(_obj(src, t, (500, 120, 560, 300), "person", rng.uniform(0.6, 0.9), 50,
                             ObjectPayload(direction="still", identity=person_name)))
            t += 0.5
    sentence, meaning = rng.choice(SPEECH)
    if speech is not None:
        sentence, meaning = SPEECH[speech]
    s0 = rng.uniform(2, duration - 8)
    rows.append(Observation(kind="speech", source_id=src, start=round(s0, 2), end=round(s0 + 4, 2), label="speech",
                            text=sentence, confidence=0.9))
    rare = rng.choice(RARE)
    r0 = rng.uniform(2, duration - 4)
    if rare[0] == "object":
        rows.append(_obj(src, r0, (100, 200, 180, 260), rare[1], 0.8, 77, ObjectPayload()))
    else:
        rows.append(Observation(kind="sound", source_id=src, start=round(r0, 2), end=round(r0 + 1, 2),
                                label=rare[1], confidence=0.7))
    rows.sort(key=lambda o: (o.start, o.kind))
    truth = Truth2(seed, src, duration, colour, "left to right" if l2r else "right to left", (b0, b1), speed,
                   arrive, depart, last, label, bell, person, sentence, meaning, rare, r0, cars)
    return Scene2(truth, tuple(rows))


@dataclass(frozen=True, slots=True)
class Question2:
    """A question about one scene with its expected answer; ``paraphrase`` marks non-canonical phrasings."""

    source_id: str
    text: str
    intent: str
    expect: Expect
    paraphrase: bool = False


def _pick(rng: random.Random, canonical: str, others: tuple[str, ...]) -> tuple[str, bool]:
    if rng.random() < 0.5:
        return canonical, False
    return rng.choice(others), True


def questions_for(truth: Truth2) -> list[Question2]:
    """About ten questions about one scene, the phrasing of each drawn from the scene's seed."""
    rng = random.Random(truth.seed * 7919 + 1)
    tr = truth
    out: list[Question2] = []

    def add(intent: str, canonical: str, others: tuple[str, ...], expect: Expect) -> None:
        text, para = _pick(rng, canonical, others)
        out.append(Question2(tr.source_id, text, intent, expect, para))

    add("colour", "What colour was the ball?",
        ("what color is the ball", "the ball - what colour was it?", "what colur was the ball?",
         "can you tell me the colour of the ball?", "I wonder what color that ball was"),
        Expect(contains=(tr.ball_colour,)))
    add("direction", "Which way did the ball go?",
        ("in which direction was the ball moving?", "wich way did the ball roll", "did the ball go left or right?",
         "where was the ball heading?", "tell me the direction the ball went"),
        Expect(contains=(tr.ball_direction,)))
    add("speed", "How fast was the ball moving?",
        ("what speed did the ball go at?", "how quickly did the ball move", "was the ball fast? how fast?"),
        Expect(numbers=(tr.ball_speed,), tolerance=0.2 * tr.ball_speed))
    add("arrival", "When was the parcel delivered?",
        ("what time did the package show up?", "when did the box arrive", "when did the parcel get dropped off?",
         "at what time was the package delivered", "wen was the parcel delivered"),
        Expect(numbers=(round(tr.parcel_arrival, 1),), evidence_time=tr.parcel_arrival))
    if tr.parcel_departure is not None:
        add("departure", "When was the parcel taken?",
            ("when did somebody take the package?", "what time was the box removed?",
             "when did the parcel disappear", "when was the package picked up?"),
            Expect(numbers=(round(tr.parcel_last_seen, 1),), tolerance=1.0, evidence_time=tr.parcel_last_seen))
    add("dwell", "How long did the parcel stay?",
        ("for how long was the package there?", "how long was the box sitting at the door?",
         "how much time did the parcel spend there"),
        Expect(numbers=(round(tr.parcel_last_seen - tr.parcel_arrival, 1),), tolerance=1.5))
    add("text", "What is written on the box?",
        ("what does the label on the package say?", "read me the label on the parcel",
         "what's written on the parcel?", "what text was on the box"),
        Expect(contains=(tr.label,)))
    add("who", "Who rang the bell?",
        ("who rang the doorbell?", "who was it that rang the bell?", "who pressed the doorbell"),
        Expect(contains=("person",) if tr.person_near else ("nobody",)))
    add("story", "What happened?",
        ("can you summarise the clip?", "give me a recap", "so what happened here?", "tell me what went on",
         "summarize the video please"),
        Expect(contains=("arrived", tr.label, "ball")))
    rare_word = tr.rare[1].lower()
    add("unusual", "Anything unusual?",
        ("did anything odd happen?", "was there anything out of the ordinary?", "anything strange going on?",
         "did something weird happen"),
        Expect(contains=(rare_word,)))
    # asked without any of the sentence's words: always an indirect phrasing
    out.append(Question2(tr.source_id, tr.speech_question.capitalize(), "meaning", Expect(yes=True), True))
    return out


def question_set(seeds: range | list[int]) -> tuple[list[Scene2], list[Question2]]:
    """Scenes for ``seeds`` and their questions."""
    scenes = [make_scene(s) for s in seeds]
    return scenes, [q for sc in scenes for q in questions_for(sc.truth)]


def load_scene2(store: TimelineStore, scene: Scene2) -> list[int]:
    """Register the scene as a source and commit its rows; returns the new row ids."""
    t = scene.truth
    store.upsert_source(SourceInfo(id=t.source_id, uri=f"synth://questions2/{t.seed}", kind="file",
                                   duration=t.duration, width=W, height=H, fps=25.0))
    ids = store.commit_batch(scene.observations, progress=(t.source_id, t.duration))
    store.set_source_status(t.source_id, "done")
    return ids


# --- the "blind" set: templates written from docs/thinking.md's list of intents only, before the
# planner or this generator was read (synth/blind_paraphrases.json); answers come from the truth.

BLIND_FILE = Path(__file__).with_name("blind_paraphrases.json")
_TOPIC = re.compile(r"(?:mention|about) (.+?)\?*$")


@dataclass(frozen=True, slots=True)
class BlindQuestion(Question2):
    """A blind-template question; ``first``/``second`` (answer must name ``first`` before ``second``) for order."""

    first: tuple[str, ...] = ()
    second: tuple[str, ...] = ()


def blind_templates() -> list[tuple[str, str]]:
    """``(intent, template)`` pairs of synth/blind_paraphrases.json."""
    items = json.loads(BLIND_FILE.read_text(encoding="utf-8"))
    return [(str(i["intent"]), str(i["template"])) for i in items]


_BALL, _PARCEL = ("ball",), ("parcel|package|box|object|delivery",)


def blind_questions_for(truth: Truth2, templates: list[tuple[str, str]]) -> list[BlindQuestion]:
    """One question per blind intent about ``truth``, its template and fillers drawn from the seed."""
    rng = random.Random(truth.seed * 104729 + 3)
    tr = truth
    by_intent: dict[str, list[str]] = {}
    for intent, tpl in templates:
        by_intent.setdefault(intent, []).append(tpl)
    m = _TOPIC.search(tr.speech_question)
    topic = m.group(1) if m else "it"
    other_topics = [mt.group(1) for s, q in SPEECH if s != tr.speech and (mt := _TOPIC.search(q)) is not None]
    taken = tr.parcel_departure is not None
    right = tr.ball_direction == "left to right"
    direction = tr.ball_direction + ("|to the right|rightward" if right else "|to the left|leftward")
    rare_obj = tr.rare[1] if tr.rare[0] == "object" else None
    absent = next(a for a in ("horse", "dog", "cow") if a != rare_obj)
    present_obj = rng.choice([o for o in (rare_obj, "car") if o]) if rng.random() < 0.6 else absent
    ball_first = tr.ball_span[0] < tr.parcel_arrival
    expects: dict[str, tuple[dict[str, str], Expect]] = {
        "colour": ({"object": "ball"}, Expect(contains=(tr.ball_colour,))),
        "direction": ({"object": "ball"}, Expect(contains=(direction,))),
        "arrival": ({}, Expect(numbers=(round(tr.parcel_arrival, 1),), evidence_time=tr.parcel_arrival)),
        "taken": ({}, Expect(numbers=(round(tr.parcel_last_seen, 1),), tolerance=1.0) if taken
                  else Expect(contains=("still|not",), excludes=("not perceive",))),
        "duration": ({}, Expect(numbers=(round(tr.parcel_last_seen - tr.parcel_arrival, 1),), tolerance=1.5)),
        "text": ({}, Expect(contains=(tr.label,))),
        "who_sound": ({}, Expect(contains=("person",) if tr.person_near else ("nobody",))),
        "when_sound": ({}, Expect(numbers=(round(tr.bell, 1),), evidence_time=tr.bell)),
        "mention": ({"topic": topic}, Expect(yes=True)),
        "mention_no": ({"topic": rng.choice(other_topics)}, Expect(yes=False)),
        "said": ({}, Expect(contains=(tr.speech,))),
        "count": ({"object": rng.choice(("car", "car", "vehicle"))}, Expect(numbers=(tr.cars,), tolerance=0.0)),
        "presence": ({"object": present_obj}, Expect(yes=present_obj != absent)),
        "describe": ({}, Expect(contains=(tr.label, "ball"))),
        "unusual": ({}, Expect(contains=(tr.rare[1].lower(),))),
        "order": ({}, Expect()),
    }
    out: list[BlindQuestion] = []
    for intent, (fill, expect) in expects.items():
        tpls = by_intent.get("mention" if intent == "mention_no" else intent, [])
        if not tpls:
            continue
        tpl = rng.choice(tpls)
        values = {"object": rng.choice(("parcel", "package", "box")), "sound": rng.choice(("bell", "doorbell")),
                  "other": "", **fill}
        first: tuple[str, ...] = ()
        second: tuple[str, ...] = ()
        if intent == "order":
            parcel_word = values["object"]
            a, b = ("ball", parcel_word) if rng.random() < 0.5 else (parcel_word, "ball")
            values.update(object=a, other=b)
            if tpl.startswith("did "):  # "did the A come before the B?"
                expect = Expect(yes=(a == "ball") == ball_first)
            else:
                first, second = (_BALL, _PARCEL) if ball_first else (_PARCEL, _BALL)
        text = tpl.format(**values)
        out.append(BlindQuestion(tr.source_id, text, intent, expect, True, first, second))
    return out


def blind_set(seeds: range | list[int]) -> tuple[list[Scene2], list[BlindQuestion]]:
    """Scenes for ``seeds`` and their blind-template questions."""
    scenes = [make_scene(s) for s in seeds]
    templates = blind_templates()
    return scenes, [q for sc in scenes for q in blind_questions_for(sc.truth, templates)]


def score_blind(answer: str, q: Question2, cited: list[tuple[float, float]]) -> bool:
    """:func:`synth.questions.score`, plus for order questions: ``first`` named before ``second``."""
    if not score(answer, q.expect, cited):
        return False
    if isinstance(q, BlindQuestion) and q.first:
        low = answer.lower()

        def at(alts: tuple[str, ...]) -> int:
            hits = [low.find(a) for s in alts for a in s.split("|") if a in low]
            return min(hits) if hits else -1

        i, j = at(q.first), at(q.second)
        return i >= 0 and (j < 0 or i < j)
    return True
