"""Questions about the synthetic scenes, with answers computed from their truth, and a scorer.

Expected values are derived from :class:`~synth.scene.SceneTruth` (never typed in
by hand), so changing a scene changes its answers. Scoring looks at the answer text (numbers
within tolerance, required strings, yes/no) and at the cited evidence (ids exist, "when"
evidence within ±1 s of the truth).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from synth.scene import SceneTruth
from synth.scenes import SCENES


@dataclass(frozen=True, slots=True)
class Expect:
    """What a correct answer contains.

    Attributes:
        numbers: numbers the answer must state (each within ``tolerance``).
        tolerance: allowed absolute error of each number.
        contains: strings the answer must contain (case-insensitive; ``a|b`` means either).
        excludes: strings it must not contain.
        yes: ``True``/``False`` for yes/no questions (the answer must start accordingly).
        evidence_time: for "when" questions, a cited span must start (or end) within 1 s of it.
    """

    numbers: tuple[float, ...] = ()
    tolerance: float = 1.0
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    yes: bool | None = None
    evidence_time: float | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """A question about one scene with its expected answer and intent."""

    scene: str
    text: str
    intent: str
    expect: Expect


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in _NUMBER.findall(text)]


def score(answer: str, expect: Expect, cited: Sequence[tuple[float, float]] = ()) -> bool:
    """Whether ``answer`` (with cited ``(start, end)`` spans) is correct for ``expect``."""
    low = answer.lower()
    if expect.yes is not None:
        first = re.findall(r"[a-z]+", low)[:1]
        if first != (["yes"] if expect.yes else ["no"]):
            return False
    found = _numbers(answer)
    for n in expect.numbers:
        if not any(abs(f - n) <= expect.tolerance for f in found):
            return False
    for s in expect.contains:
        if not any(alt.lower() in low for alt in s.split("|")):
            return False
    if any(s.lower() in low for s in expect.excludes):
        return False
    if expect.evidence_time is not None:
        t = expect.evidence_time
        if not any(abs(a - t) <= 1.0 or abs(b - t) <= 1.0 for a, b in cited):
            return False
    return True


def _first(truth: SceneTruth, label: str) -> float:
    return min(o.start for o in truth.objects_labelled(label))


def _last(truth: SceneTruth, label: str) -> float:
    return max(o.end for o in truth.objects_labelled(label))


def _sound(truth: SceneTruth, label: str) -> float:
    return next(s.start for s in truth.sounds if s.label == label)


def _front_door(t: SceneTruth) -> list[Question]:
    box = t.objects_labelled("package")[0]
    ball = t.objects_labelled("sports ball")[0]
    sp = t.speech[0]
    q = [
        ("When was the package delivered?", "when", Expect(numbers=(box.start,), evidence_time=box.start)),
        ("When did the package disappear?", "when", Expect(numbers=(box.end,), evidence_time=box.end)),
        ("When did the doorbell ring?", "when", Expect(numbers=(_sound(t, "Doorbell"),),
                                                        evidence_time=_sound(t, "Doorbell"))),
        ("What does the label on the package say?", "what-text", Expect(contains=(t.texts[0].text,))),
        ("What did the man say?", "what-said", Expect(contains=("fellow Americans", "your country"))),
        ("How many packages were delivered?", "count", Expect(numbers=(1,), tolerance=0)),
        ("How long was the package at the door?", "duration",
         Expect(numbers=(box.end - box.start,), tolerance=1.5)),
        ("Which came first, the doorbell or the speech?", "order", Expect(contains=("doorbell",),
                                                                           excludes=("speech came first",))),
        ("Was there a dog?", "yes-no", Expect(yes=False)),
        ("Did the doorbell ring?", "yes-no", Expect(yes=True)),
        ("In which direction did the ball move?", "attribute", Expect(contains=(ball.direction,))),
        ("What sounds did you hear?", "what", Expect(contains=("doorbell",), excludes=("bark",))),
        ("What happened?", "describe", Expect(contains=("package", "doorbell"), excludes=("dog",))),
        ("When was the package delivered and what does the label say?", "when",
         Expect(numbers=(box.start,), contains=(t.texts[0].text,), evidence_time=box.start)),
        ("When did the man start speaking?", "when", Expect(numbers=(sp.start,), evidence_time=sp.start)),
    ]
    return [Question(t.name, a, b, c) for a, b, c in q]


def _driveway(t: SceneTruth) -> list[Question]:
    car = t.objects_labelled("car")[0]
    people = t.objects_labelled("person")
    q = [
        ("When did the car arrive?", "when", Expect(numbers=(car.start,), evidence_time=car.start)),
        ("When did the car leave?", "when", Expect(numbers=(car.end,), evidence_time=car.end)),
        ("How many people walked by?", "count", Expect(numbers=(len(people),), tolerance=0)),
        ("How long was the car in the driveway?", "duration",
         Expect(numbers=(car.end - car.start,), tolerance=1.5)),
        ("What is the license plate of the car?", "what-text", Expect(contains=(t.texts[0].text,))),
        ("What did the person say?", "what-said", Expect(contains=("back in ten minutes",))),
        ("Was there a dog?", "yes-no", Expect(yes=True)),
        ("Was there a bicycle?", "yes-no", Expect(yes=False)),
        ("Did a truck come by?", "yes-no", Expect(yes=False)),
        ("Which came first, the car horn or the dog?", "order", Expect(contains=("horn",))),
        ("When did the car honk?", "when", Expect(numbers=(_sound(t, "Vehicle horn, car horn, honking"),),
                                                 evidence_time=_sound(t, "Vehicle horn, car horn, honking"))),
        ("In which direction did the dog run?", "attribute",
         Expect(contains=(t.objects_labelled("dog")[0].direction,))),
        ("When was the first person seen?", "when", Expect(numbers=(people[0].start,),
                                                            evidence_time=people[0].start)),
        ("What happened?", "describe", Expect(contains=("car", "person|people", "dog"), excludes=("bicycle",))),
        ("How long was the dog visible?", "duration",
         Expect(numbers=(t.objects_labelled("dog")[0].end - t.objects_labelled("dog")[0].start,), tolerance=1.5)),
    ]
    return [Question(t.name, a, b, c) for a, b, c in q]


def _office(t: SceneTruth) -> list[Question]:
    people = t.objects_labelled("person")
    laptop = t.objects_labelled("laptop")[0]
    q = [
        ("How many people were in the office?", "count", Expect(numbers=(len(people),), tolerance=0)),
        ("When did the phone ring?", "when", Expect(numbers=(_sound(t, "Telephone bell ringing"),),
                                                    evidence_time=_sound(t, "Telephone bell ringing"))),
        ("When did someone knock?", "when", Expect(numbers=(_sound(t, "Knock"),), evidence_time=_sound(t, "Knock"))),
        ("What is written on the whiteboard?", "what-text", Expect(contains=(t.texts[0].text,))),
        ("What was said about the meeting?", "what-said", Expect(contains=("starts at three",))),
        ("When did someone say to lock the door?", "when",
         Expect(numbers=(t.speech[1].start,), evidence_time=t.speech[1].start)),
        ("Was there a dog in the office?", "yes-no", Expect(yes=False)),
        ("Was there a laptop?", "yes-no", Expect(yes=True)),
        ("Which came first, the phone or the knock?", "order", Expect(contains=("phone|telephone",))),
        ("Did the knock happen before the phone rang?", "order", Expect(yes=False)),
        ("How long did the knock last?", "duration", Expect(numbers=(0.6,), tolerance=0.5)),
        ("How many people were there in the first 15 seconds?", "count", Expect(numbers=(2,), tolerance=0)),
        ("What did you hear?", "what", Expect(contains=("telephone|phone", "knock"), excludes=("dog",))),
        ("What happened?", "describe", Expect(contains=("person|people", "knock|phone|telephone"),
                                              excludes=("dog",))),
        ("How long was the laptop visible?", "duration", Expect(numbers=(laptop.end - laptop.start,), tolerance=1.5)),
    ]
    return [Question(t.name, a, b, c) for a, b, c in q]


_BUILDERS: dict[str, Callable[[SceneTruth], list[Question]]] = {
    "front_door": _front_door, "driveway": _driveway, "office": _office,
}


def _paraphrases(name: str, t: SceneTruth) -> list[Question]:
    """Questions worded so that no planning rule finds their intent: the model must plan them."""
    if name == "front_door":
        box, sp = t.objects_labelled("package")[0], t.speech[0]
        q = [("At what point did the parcel show up?", "when", Expect(numbers=(box.start,), evidence_time=box.start)),
             ("I would like to know the words printed on the parcel label.", "what-text",
              Expect(contains=(t.texts[0].text,))),
             ("Give me the exact words the visitor spoke.", "what-said", Expect(contains=(sp.text.split(",")[0],)))]
    elif name == "driveway":
        car = t.objects_labelled("car")[0]
        q = [("Tell me if a truck came by.", "yes-no", Expect(yes=False)),
             ("Any bicycles around?", "yes-no", Expect(yes=False)),
             ("Tell me the number plate of that car.", "what-text", Expect(contains=(t.texts[0].text,))),
             ("Approximately how much time did the car spend in the driveway?", "duration",
              Expect(numbers=(car.end - car.start,), tolerance=1.5))]
    else:
        phone = _sound(t, "Telephone bell ringing")
        q = [("Roughly at what moment did the phone go off?", "when", Expect(numbers=(phone,), evidence_time=phone)),
             ("Please tell me whether a dog showed up in the office.", "yes-no", Expect(yes=False))]
    return [Question(t.name, a, b, c) for a, b, c in q]


def paraphrases(scene: str | None = None) -> list[Question]:
    """Questions the planning rules cannot parse (the language model plans them), with truth answers."""
    names = [scene] if scene else list(SCENES)
    return [q for n in names for q in _paraphrases(n, SCENES[n]())]


def questions(scene: str | None = None) -> list[Question]:
    """All questions (or those of one scene), answers computed from the scene truth."""
    names = [scene] if scene else list(SCENES)
    return [q for n in names for q in _BUILDERS[n](SCENES[n]())]
