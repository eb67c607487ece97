"""The concept table: every word scenewatch understands and what perceives it.

To add a concept, add one :class:`Concept` line here. Watching, triggers and questions all read
it through :func:`scenewatch.vocabulary.concepts.resolve`; ``tests/vocabulary`` checks that the
labels exist and that the three agree.

Sound labels are AudioSet display names and count *with their descendants* (``Doorbell`` also
means ``Ding-dong``); ``exact_sounds`` count alone (a bare ``Bell`` is a doorbell, a church bell
is not). Object labels are detector labels: the 80 COCO names, plus names an open-vocabulary
detector is prompted with (``package``); a closed detector simply never writes those.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenewatch.vocabulary.words import TEXT_WORDS

#: Seconds a class-less arrival must have rested to count as "something left" (a parcel, a bag).
ARRIVAL_REST = 3.0

#: Shipping-label words: text that stands for a parcel the detector has no class for.
SHIPPING_LABELS = ("PRIORITY MAIL", "USPS", "UPS", "FEDEX", "DHL", "AMAZON")


@dataclass(frozen=True, slots=True)
class Concept:
    """A thing people watch for, trigger on and ask about.

    Attributes:
        name: canonical name ("doorbell").
        words: words and phrases that name it, lower-case (plurals ending in s/es are found anyway).
        objects: detector labels that are this concept.
        sounds: AudioSet labels that are this concept, each with its descendants.
        exact_sounds: AudioSet labels that count without their descendants.
        any_of: observation kinds where every row counts (``speech``: anything said).
        arrival: seconds a class-less arrival must rest to be this concept, or ``None``.
        hints: text that stands for the concept when nothing else sees it (a parcel's shipping label).
        noun: how answers name it ("phone ringing").
        owner: the concept that makes this sound ("car" for a horn), so "when did the car honk" asks the horn.
        note: a plain-words remark shown with the mapping.
    """

    name: str
    words: tuple[str, ...]
    objects: tuple[str, ...] = ()
    sounds: tuple[str, ...] = ()
    exact_sounds: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    arrival: float | None = None
    hints: tuple[str, ...] = ()
    noun: str = ""
    owner: str | None = None
    note: str = ""


_PARCEL_NOTE = "COCO-80 has no box/package class; watched as arrivals at rest and by shipping-label text"

CONCEPTS: tuple[Concept, ...] = (
    # people
    Concept("person", ("person", "people", "persons", "someone", "somebody", "anyone", "anybody", "human", "man",
                       "men", "woman", "women", "child", "children", "kid", "boy", "girl", "baby", "adult",
                       "courier", "delivery person", "delivery driver", "delivery man", "mailman", "postman",
                       "mail carrier", "visitor", "intruder", "stranger", "pedestrian", "guest", "burglar", "thief",
                       "neighbor", "neighbour", "worker", "resident", "guy", "he", "she", "they"),
            objects=("person",)),
    # vehicles
    Concept("car", ("car", "automobile", "sedan", "suv", "taxi", "cab", "auto"), objects=("car",)),
    Concept("van", ("van", "delivery van", "minivan"), objects=("car", "truck"),
            note="COCO-80 has no van class: a van is detected as a car or a truck"),
    Concept("truck", ("truck", "lorry", "pickup", "pickup truck", "delivery truck"), objects=("truck",)),
    Concept("vehicle", ("vehicle",), objects=("car", "truck", "bus", "motorcycle")),
    Concept("bus", ("bus", "coach"), objects=("bus",)),
    Concept("motorcycle", ("motorcycle", "motorbike", "scooter", "moped"), objects=("motorcycle",)),
    Concept("bicycle", ("bicycle", "bike", "cyclist"), objects=("bicycle",)),
    # animals
    Concept("dog", ("dog", "puppy", "doggy", "hound"), objects=("dog",)),
    Concept("cat", ("cat", "kitten", "kitty"), objects=("cat",)),
    Concept("pet", ("pet",), objects=("dog", "cat")),
    Concept("bird", ("bird", "pigeon", "crow", "sparrow"), objects=("bird",)),
    # things left, carried, delivered
    Concept("package", ("package", "parcel", "box", "delivery", "deliveries", "delivered", "shipment", "mail",
                        "package delivery"),
            objects=("package", "parcel", "box"), arrival=ARRIVAL_REST, hints=SHIPPING_LABELS, note=_PARCEL_NOTE),
    Concept("bag", ("bag",), objects=("backpack", "handbag", "suitcase"), arrival=ARRIVAL_REST),
    Concept("left object", ("something left", "something left behind", "left behind", "left object",
                            "object left", "anything left", "something dropped off", "dropped off"),
            objects=("package", "parcel", "box", "backpack", "handbag", "suitcase"), arrival=ARRIVAL_REST,
            hints=SHIPPING_LABELS, noun="object left behind",
            note="anything that arrived and stayed, with or without a detector class"),
    Concept("backpack", ("backpack", "rucksack"), objects=("backpack",)),
    Concept("handbag", ("handbag", "purse"), objects=("handbag",)),
    Concept("suitcase", ("suitcase", "luggage"), objects=("suitcase",)),
    # household objects
    Concept("phone", ("phone", "cellphone", "cell phone", "mobile phone", "smartphone", "mobile", "telephone"),
            objects=("cell phone",), sounds=("Telephone",)),
    Concept("tv", ("tv", "television", "tv set"), objects=("tv",)),
    Concept("couch", ("couch", "sofa", "settee"), objects=("couch",)),
    Concept("table", ("table", "dining table", "kitchen table"), objects=("dining table",)),
    Concept("plant", ("plant", "houseplant", "potted plant", "flower pot"), objects=("potted plant",)),
    Concept("laptop", ("laptop", "computer", "notebook", "notebook computer"), objects=("laptop",)),
    Concept("cup", ("cup", "mug"), objects=("cup",)),
    Concept("knife", ("knife", "blade"), objects=("knife",)),
    Concept("ball", ("ball", "football", "soccer ball", "basketball", "circle"),
            objects=("sports ball", "ball", "frisbee"),
            note="COCO-80 detectors often label a ball as a frisbee (a round shape); both count"),
    Concept("refrigerator", ("refrigerator", "fridge"), objects=("refrigerator",)),
    Concept("hair dryer", ("hair dryer", "hairdryer", "blow dryer", "hair drier"), objects=("hair drier",)),
    Concept("chair", ("chair", "seat", "stool"), objects=("chair",)),
    Concept("bed", ("bed",), objects=("bed",)),
    Concept("umbrella", ("umbrella",), objects=("umbrella",)),
    Concept("teddy bear", ("teddy", "teddy bear", "stuffed animal", "plush toy"), objects=("teddy bear",)),
    # sounds
    Concept("doorbell", ("doorbell", "door bell", "doorbell ring", "doorbell rings", "someone rings the bell",
                         "bell", "bell ring", "ringing bell", "ding-dong", "ding dong", "chime"),
            sounds=("Doorbell",), exact_sounds=("Bell", "Chime"), owner="person"),
    Concept("phone ringing", ("phone ringing", "telephone ringing", "ringing phone", "ringtone", "phone ring",
                              "phone rings", "phone rang"),
            sounds=("Telephone bell ringing", "Ringtone")),
    Concept("knock", ("knock", "knocked", "knocking", "knock on the door", "door knock", "someone knocking"),
            sounds=("Knock",), owner="person"),
    Concept("car horn", ("car horn", "horn", "honk", "honked", "honking", "hooted"),
            sounds=("Vehicle horn, car horn, honking", "Air horn, truck horn"), owner="car"),
    Concept("bark", ("bark", "barked", "barking", "dog barking", "barking dog"),
            sounds=("Bark", "Bow-wow", "Yip"), exact_sounds=("Dog",), noun="barking", owner="dog"),
    Concept("meow", ("meow", "meowing", "cat meowing"), sounds=("Meow",), exact_sounds=("Cat",), owner="cat"),
    Concept("siren", ("siren", "emergency siren"), sounds=("Siren",)),
    Concept("alarm", ("alarm", "alarm sound", "beeping alarm"),
            sounds=("Alarm clock", "Smoke detector, smoke alarm", "Fire alarm", "Car alarm", "Buzzer"),
            exact_sounds=("Alarm",)),
    Concept("smoke alarm", ("smoke alarm", "smoke detector", "fire alarm"),
            sounds=("Smoke detector, smoke alarm", "Fire alarm")),
    Concept("glass", ("glass", "glass breaking", "breaking glass", "broken glass", "glass break",
                               "shatter", "shattered", "shattering", "broke"),
            sounds=("Shatter",), exact_sounds=("Glass",), noun="breaking glass"),
    Concept("crying", ("crying", "sobbing", "someone crying"), sounds=("Crying, sobbing",), owner="person"),
    Concept("baby crying", ("baby crying", "crying baby", "infant crying", "baby cry"),
            sounds=("Baby cry, infant cry",), owner="person"),
    Concept("scream", ("scream", "screaming", "shriek", "someone screaming"), sounds=("Screaming",),
            owner="person"),
    Concept("gunshot", ("gunshot", "gunfire", "shots fired"), sounds=("Gunshot, gunfire",)),
    Concept("explosion", ("explosion", "blast", "bang"), sounds=("Explosion",)),
    Concept("footsteps", ("footsteps", "steps", "walking sounds"), sounds=("Walk, footsteps",), owner="person"),
    Concept("door slam", ("door slam", "slam", "slamming door", "slammed"), sounds=("Slam",)),
    Concept("applause", ("applause", "clapping"), sounds=("Applause", "Clapping")),
    Concept("music", ("music", "song"), sounds=("Music",)),
    # what is said and what is written: any row of the kind; a quoted phrase narrows it
    Concept("speech", ("speech", "said", "say", "says", "spoke", "speak", "speaking", "talk", "talked", "talking",
                       "voice", "voices", "remark", "mention", "mentioned", "conversation", "someone talking"),
            any_of=("speech",), owner="person"),
    Concept("text", tuple(sorted(TEXT_WORDS | {"license plate"})),
            any_of=("text",)),
)

#: Words of the text concept that name the thing the text is on ("the label on the package").
TEXT_CARRIERS: dict[str, str] = {"label": "package", "plate": "car", "license": "car", "license plate": "car"}
