"""Observations with known truth for memory tests: the shared scene, the fixture manifest, noise."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from scenewatch.memory.store import TimelineStore
from scenewatch.types import Observation, SourceInfo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCENE_ID = "scene"


@dataclass(frozen=True)
class Truth:
    """One labelled thing a query must find: ``query`` → ``source_id`` over ``[start, end]``."""

    query: str
    source_id: str
    start: float
    end: float
    kind: str


def scene_observations() -> list[Observation]:
    """scene.json converted to the rows perception would write (objects/OCR per second)."""
    scene = json.loads((FIXTURES / "scene" / "scene.json").read_text())
    rows: list[Observation] = [Observation("scene", SCENE_ID, 0.0, 0.04, label="scene start")]
    for track, obj in enumerate(scene["objects"], start=1):
        label = obj["label"].split(" (")[0]
        for sample in obj["boxes_1fps"]:
            if sample["box"] is not None:
                rows.append(Observation("object", SCENE_ID, sample["t"], sample["t"] + 1.0, label=label,
                                        confidence=0.8, box=tuple(map(float, sample["box"])), track_id=track))
    for text in scene["text"]:
        for sample in text["text_boxes_1fps"]:
            if sample["box"] is not None:
                rows.append(Observation("text", SCENE_ID, sample["t"], sample["t"] + 1.0, label="text",
                                        text=text["text"], confidence=0.9, box=tuple(map(float, sample["box"]))))
    for snd in scene["sound_events"]:
        rows.append(Observation("sound", SCENE_ID, snd["start"], snd["end"], label=snd["label"], confidence=0.8))
    for sp in scene["speech"]:
        rows.append(Observation("speech", SCENE_ID, sp["voiced_start"], sp["voiced_end"], label="speech",
                                text=sp["transcript"], confidence=0.9))
    return rows


def manifest_observations() -> tuple[list[Observation], list[Truth]]:
    """Every labelled fixture file as its own source, with the queries that must find it."""
    rows: list[Observation] = []
    truths: list[Truth] = []
    for item in json.loads((FIXTURES / "manifest.json").read_text()):
        src = item["path"]
        if item["kind"] == "speech":
            transcript = item["transcript"]
            parts = transcript.values() if isinstance(transcript, dict) else [transcript]
            for n, text in enumerate(parts):
                rows.append(Observation("speech", src, float(n), float(n) + 5, label="speech", text=text))
                words = text.rstrip(".,").split()
                truths.append(Truth(" ".join(words[1:5]), src, n, n + 5, "speech"))  # a phrase from inside
        elif item["kind"] == "audio_event":
            for ev in item["events"]:
                rows.append(Observation("sound", src, ev["start"], ev["end"], label=ev["label"], confidence=0.7))
                truths.append(Truth(ev["label"].lower(), src, ev["start"], ev["end"], "sound"))
        elif item["kind"] == "ocr_image" and item.get("text"):
            for line in item["text"].splitlines():
                if line.strip():
                    rows.append(Observation("text", src, 0.0, 1.0, label="text", text=line.strip()))
            first = item["text"].split()
            truths.append(Truth(" ".join(first[:3]), src, 0.0, 1.0, "text"))
        elif item["kind"] == "video":
            for track, label in enumerate(dict.fromkeys(item["labels"]), start=1):
                name = label.split(" (")[0]
                rows.append(Observation("object", src, 1.0, 4.0, label=name, confidence=0.8, track_id=track))
                truths.append(Truth(name, src, 1.0, 4.0, "object"))
    return rows, truths


SCENE_TRUTHS = [
    Truth("ask not what your country can do for you", SCENE_ID, 15.13, 22.36, "speech"),
    Truth("my fellow Americans", SCENE_ID, 15.13, 22.36, "speech"),
    Truth("PRIORITY MAIL", SCENE_ID, 8.8, 20.0, "text"),
    Truth("priority", SCENE_ID, 8.8, 20.0, "text"),
    Truth("package", SCENE_ID, 8.0, 20.0, "object"),
    Truth("red circle", SCENE_ID, 2.0, 6.0, "object"),
    Truth("doorbell", SCENE_ID, 12.0, 14.064, "sound"),
]

_NOISE_LABELS = ["cat", "car", "chair", "dog", "bicycle", "truck", "cup", "tv", "laptop", "bird"]
_NOISE_SOUNDS = ["Speech", "Music", "Vehicle", "Wind", "Silence", "Footsteps", "Clapping", "Typing"]
_NOISE_TEXT = (
    "the weather today is mild and the meeting starts at nine we should order more paper for "
    "the printer and check the garden hose before winter arrives next week"
)


def noise_observations(n: int, source_id: str = "noise", seed: int = 0) -> list[Observation]:
    """Plausible unrelated rows (objects, sounds, chatter, signs) to make retrieval non-trivial."""
    rng = random.Random(seed)
    words = _NOISE_TEXT.split()
    rows = []
    for i in range(n):
        t = float(i * 2)
        r = rng.random()
        if r < 0.4:
            rows.append(Observation("object", source_id, t, t + 1, label=rng.choice(_NOISE_LABELS),
                                    confidence=0.6, track_id=i))
        elif r < 0.6:
            rows.append(Observation("sound", source_id, t, t + 1, label=rng.choice(_NOISE_SOUNDS), confidence=0.5))
        elif r < 0.85:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
            rows.append(Observation("speech", source_id, t, t + 3, label="speech", text=text))
        else:
            text = f"{rng.choice(['EXIT', 'OPEN', 'SALE', 'ROOM', 'GATE'])} {rng.randint(1, 99)}"
            rows.append(Observation("text", source_id, t, t + 1, label="text", text=text))
    return rows


def fill_store(store: TimelineStore, rows: list[Observation]) -> list[int]:
    """Register each row's source and insert the rows."""
    for source_id in dict.fromkeys(o.source_id for o in rows):
        store.upsert_source(SourceInfo(id=source_id, uri=f"/media/{source_id}", kind="file"))
    return store.add_observations(rows)


@dataclass(frozen=True)
class TruthEvent:
    """A ground-truth event of a looped synthetic input."""

    kind: str
    what: str
    start: float
    end: float


def looped_timeline(minutes: float, source_id: str = "cam") -> tuple[list[Observation], list[TruthEvent]]:
    """The three synthetic scenes (front door, driveway, office) perceived in turn for ``minutes``.

    Each loop has its own seed (different jitter, misses, OCR misreads) and its own track ids.
    Returns rows with ids (as if stored) and the truth events (objects, sounds, speech, text).
    """
    from dataclasses import replace

    from synth.scene import perceive
    from synth.scenes import SCENES

    rows: list[Observation] = []
    events: list[TruthEvent] = []
    names = sorted(SCENES)
    offset, loop = 0.0, 0
    while offset < minutes * 60:
        truth = SCENES[names[loop % len(names)]]()
        for o in perceive(truth, seed=loop).observations:
            rows.append(replace(o, source_id=source_id, start=o.start + offset, end=o.end + offset,
                                id=len(rows) + 1,
                                track_id=None if o.track_id is None else o.track_id + 1000 * loop))
        events += [TruthEvent("object", o.label, o.start + offset, o.end + offset) for o in truth.objects]
        events += [TruthEvent("sound", s.label, s.start + offset, s.end + offset) for s in truth.sounds]
        events += [TruthEvent("speech", s.text, s.start + offset, s.end + offset) for s in truth.speech]
        events += [TruthEvent("text", s.text, s.start + offset, s.end + offset) for s in truth.texts]
        offset += truth.duration
        loop += 1
    return rows, events
