"""Three synthetic scenes: front door, driveway, office.

The front door mirrors the shared rendered scene (``tests/fixtures/scene/scene.json``): same
times, boxes, label text, doorbell and speech, plus a 0.14-confidence "dog" and other
distractors of the kind that fooled the raw-timeline model.
"""

from __future__ import annotations

from synth.scene import (
    Distractor,
    SceneTruth,
    TruthObject,
    TruthSound,
    TruthSpeech,
    TruthText,
)


def front_door() -> SceneTruth:
    """30 s at a front door: a ball rolls by, a package is delivered, the bell rings, a man speaks."""
    r = 28
    return SceneTruth(
        name="front_door", source_id="synth-front-door", duration=30.0, width=640, height=360,
        objects=(
            TruthObject("circle", "sports ball", 1, 2.04, 6.0,
                        ((2.0, (-2.0 * r, 84.0, 0.0, 140.0)), (6.0, (640.0, 84.0, 640.0 + 2 * r, 140.0))),
                        "a red ball rolls left to right"),
            TruthObject("box", "package", 2, 8.04, 20.0,
                        ((8.04, (600.0, 172.0, 640.0, 322.0)), (9.0, (350.0, 172.0, 600.0, 322.0)),
                         (20.0, (350.0, 172.0, 600.0, 322.0))),
                        "a package slides in from the right and rests at the door"),
        ),
        sounds=(TruthSound("Doorbell", 12.0, 14.064, 0.82),),
        speech=(TruthSpeech("And so my fellow Americans, ask not what your country can do for you,", 15.13, 22.36),),
        texts=(TruthText("PRIORITY MAIL", 8.8, 20.0, (376.0, 206.0, 575.0, 224.0), on_object="box"),),
        distractors=(
            Distractor("object", "dog", 24.0, 0.14, (40.0, 250.0, 120.0, 330.0)),
            Distractor("object", "cat", 4.5, 0.11, (500.0, 280.0, 560.0, 340.0)),
            Distractor("sound", "Bark", 26.0, 0.12),
            Distractor("text", "text", 27.0, 0.18, (20.0, 20.0, 90.0, 40.0), "EXlT"),
        ),
        description="front door: package delivered 8–20 s, doorbell 12 s, speech 15–22 s",
    )


def driveway() -> SceneTruth:
    """60 s on a driveway: a car arrives and leaves, two people walk by, a dog runs through."""
    return SceneTruth(
        name="driveway", source_id="synth-driveway", duration=60.0, width=960, height=540,
        objects=(
            TruthObject("car", "car", 1, 5.0, 44.0,
                        ((5.0, (0.0, 250.0, 120.0, 420.0)), (8.0, (300.0, 250.0, 700.0, 420.0)),
                         (40.0, (300.0, 250.0, 700.0, 420.0)), (44.0, (900.0, 250.0, 960.0, 420.0))),
                        "a car drives in from the left, parks, then drives off to the right"),
            TruthObject("person_a", "person", 2, 10.0, 18.0,
                        ((10.0, (420.0, 200.0, 480.0, 400.0)), (18.0, (880.0, 200.0, 940.0, 400.0))),
                        "a person gets out of the car and walks right"),
            TruthObject("person_b", "person", 3, 25.0, 33.0,
                        ((25.0, (880.0, 210.0, 930.0, 390.0)), (33.0, (30.0, 210.0, 80.0, 390.0))),
                        "a second person walks right to left"),
            TruthObject("dog", "dog", 4, 46.0, 52.0,
                        ((46.0, (100.0, 400.0, 200.0, 480.0)), (52.0, (700.0, 400.0, 800.0, 480.0))),
                        "a dog runs left to right"),
        ),
        sounds=(TruthSound("Vehicle horn, car horn, honking", 41.0, 41.8, 0.75),
                TruthSound("Bark", 47.0, 48.2, 0.7)),
        speech=(TruthSpeech("I'll be back in ten minutes", 12.0, 14.5),),
        texts=(TruthText("KX 482 B", 8.0, 40.0, (460.0, 380.0, 540.0, 400.0), on_object="car"),),
        distractors=(
            Distractor("object", "bicycle", 30.0, 0.15, (600.0, 300.0, 700.0, 400.0)),
            Distractor("object", "cat", 55.0, 0.1, (10.0, 10.0, 60.0, 60.0)),
            Distractor("object", "truck", 20.0, 0.21, (300.0, 250.0, 700.0, 420.0)),
            Distractor("sound", "Siren", 20.0, 0.1),
        ),
        description="driveway: car 5–44 s, people 10–18 s and 25–33 s, horn 41 s, dog 46–52 s",
    )


def office() -> SceneTruth:
    """45 s in an office: three people come and go, a phone rings, someone knocks, two remarks."""
    return SceneTruth(
        name="office", source_id="synth-office", duration=45.0, width=1280, height=720,
        objects=(
            TruthObject("worker", "person", 1, 0.0, 45.0,
                        ((0.0, (500.0, 250.0, 700.0, 650.0)), (45.0, (505.0, 250.0, 705.0, 650.0))),
                        "a person works at the desk the whole time"),
            TruthObject("laptop", "laptop", 2, 0.0, 45.0, ((0.0, (560.0, 480.0, 720.0, 580.0)),),
                        "a laptop on the desk"),
            TruthObject("visitor_1", "person", 3, 10.0, 30.0,
                        ((10.0, (1150.0, 200.0, 1280.0, 700.0)), (14.0, (850.0, 200.0, 1000.0, 700.0)),
                         (26.0, (850.0, 200.0, 1000.0, 700.0)), (30.0, (1150.0, 200.0, 1280.0, 700.0))),
                        "a visitor comes in from the right door, stands, and leaves"),
            TruthObject("visitor_2", "person", 4, 20.0, 40.0,
                        ((20.0, (0.0, 220.0, 120.0, 700.0)), (24.0, (200.0, 220.0, 350.0, 700.0)),
                         (40.0, (200.0, 220.0, 350.0, 700.0))),
                        "a second visitor comes in from the left"),
        ),
        sounds=(TruthSound("Telephone bell ringing", 5.0, 8.0, 0.8), TruthSound("Knock", 9.5, 10.1, 0.7)),
        speech=(TruthSpeech("The meeting starts at three", 12.0, 15.0),
                TruthSpeech("Please lock the door when you leave", 35.0, 38.0)),
        texts=(TruthText("Q3 REVIEW", 0.0, 45.0, (100.0, 60.0, 400.0, 120.0)),),
        distractors=(
            Distractor("object", "dog", 17.0, 0.12, (900.0, 600.0, 1000.0, 700.0)),
            Distractor("object", "tv", 3.0, 0.2, (50.0, 50.0, 300.0, 200.0)),
            Distractor("sound", "Dog", 33.0, 0.1),
        ),
        description="office: worker 0–45 s, visitors 10–30 s and 20–40 s, phone 5–8 s, knock 9.5 s",
    )


SCENES = {"front_door": front_door, "driveway": driveway, "office": office}
