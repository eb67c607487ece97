"""Resolve a phrase onto what perceives it: the one lookup watching, triggering and asking share.

:func:`resolve` turns ``"courier"``, ``"doorbell"``, ``"PRIORITY MAIL"``, ``"someone says 'help'"``
or ``"a red car in the driveway"`` into :class:`Targets` — object labels, AudioSet sound labels
(with the descendants that count), text to read, phrases to hear, class-less arrivals at rest,
and carrier text that hints at the thing. The steps, in order:

1. phrasing: a quoted phrase after a speech verb is speech; a quoted phrase, a phrase about a
   sign/label ("text contains X", "reads X") or an all-caps phrase is text;
2. the concept table (:mod:`scenewatch.vocabulary.table`), on the head of the phrase and then
   its shorter tails ("red car" → "car"), then anywhere inside it ("dog barking loudly");
3. exact label names (COCO, AudioSet display names and each comma part of them).

What none of these finds is ``unknown``; the caller may then ask a text encoder
(:func:`scenewatch.vocabulary.similar.nearest_labels`) — this package never builds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from scenewatch.types import Observation
from scenewatch.vocabulary import audioset
from scenewatch.vocabulary.labels import COCO_LABELS
from scenewatch.vocabulary.table import CONCEPTS, TEXT_CARRIERS, Concept
from scenewatch.vocabulary.words import SPEECH_VERBS_RE, TEXT_WORDS_RE

Via = Literal["phrase", "concept", "exact", "unknown"]

#: Label of an arrival the detector has no class for (written by the ``arrivals`` stage).
ARRIVAL_LABEL = "object"


@dataclass(frozen=True, slots=True)
class Targets:
    """What perceives a phrase. Every field is a way to see or hear it; any one is enough.

    Attributes:
        objects: detector labels.
        sounds: AudioSet display names, descendants already included.
        texts: text to read (case-insensitive substrings).
        speech: phrases to hear (case-insensitive substrings).
        any_of: observation kinds where every row counts (``speech``, ``text``).
        arrival: class-less arrivals (label ``object``, origin ``arrival``) resting at least this
            many seconds, or ``None``.
        hints: carrier text that stands for the thing when nothing else sees it (a parcel's
            ``PRIORITY MAIL``); used as a fallback, never as proof the thing itself was seen.
    """

    objects: tuple[str, ...] = ()
    sounds: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    speech: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    arrival: float | None = None
    hints: tuple[str, ...] = ()
    _lower: dict[str, frozenset[str]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower", {
            "object": frozenset(x.lower() for x in self.objects),
            "sound": frozenset(x.lower() for x in self.sounds),
        })

    @property
    def empty(self) -> bool:
        """Whether nothing perceives it."""
        return not (self.objects or self.sounds or self.texts or self.speech or self.any_of
                    or self.arrival is not None or self.hints)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Observation kinds a match can have (hints excluded), in a fixed order."""
        have = {
            "object": bool(self.objects) or self.arrival is not None,
            "sound": bool(self.sounds),
            "text": bool(self.texts) or "text" in self.any_of,
            "speech": bool(self.speech) or "speech" in self.any_of,
        }
        return tuple(k for k, on in have.items() if on)

    def labels(self) -> tuple[str, ...]:
        """Object and sound labels, lower-case (how rows are compared)."""
        return tuple(dict.fromkeys(x.lower() for x in (*self.objects, *self.sounds)))

    def admits(self, o: Observation) -> bool:
        """Whether row ``o`` is this thing (confidence, zone and time are the caller's business)."""
        if o.kind in self.any_of:
            return True
        label = o.label.lower()
        if o.kind == "object":
            return label in self._lower["object"] or (self.arrival is not None and is_arrival(o, self.arrival))
        if o.kind == "sound":
            return label in self._lower["sound"]
        if o.kind == "text":
            return any(t.lower() in o.text.lower() for t in self.texts)
        if o.kind == "speech":
            return any(p.lower() in o.text.lower() for p in self.speech)
        return False

    def hinted_by(self, o: Observation) -> bool:
        """Whether text row ``o`` carries one of the hints."""
        return o.kind == "text" and any(h.lower() in o.text.lower() for h in self.hints)

    def pairs(self) -> frozenset[tuple[str, str]]:
        """A canonical form for comparing two routes: ``{("sound", "doorbell"), ("arrival", "3.0"), …}``."""
        out = {("object", x.lower()) for x in self.objects} | {("sound", x.lower()) for x in self.sounds}
        out |= {("text", x.lower()) for x in self.texts} | {("speech", x.lower()) for x in self.speech}
        out |= {("any", k) for k in self.any_of} | {("hint", x.lower()) for x in self.hints}
        if self.arrival is not None:
            out.add(("arrival", f"{self.arrival:g}"))
        return frozenset(out)

    def describe(self) -> str:
        """Plain words: ``arrivals at rest ≥ 3 s, objects package/parcel/box, plus label text PRIORITY MAIL…``."""
        parts = []
        if self.arrival is not None:
            parts.append(f"arrivals at rest ≥ {self.arrival:g} s")
        if self.objects:
            parts.append("objects " + "/".join(self.objects))
        if self.sounds:
            shown = ", ".join(self.sounds[:4]) + (f" (+{len(self.sounds) - 4} more)" if len(self.sounds) > 4 else "")
            parts.append("sounds " + shown)
        parts += [f"text \"{t}\"" for t in self.texts] + [f"speech \"{p}\"" for p in self.speech]
        parts += [f"any {k}" for k in self.any_of]
        if self.hints:
            parts.append("plus label text " + "/".join(self.hints))
        return ", ".join(parts) or "nothing"


def is_arrival(o: Observation, min_rest: float = 0.0) -> bool:
    """Whether ``o`` is a class-less arrival that has rested at least ``min_rest`` seconds.

    The rest is the payload's ``dwell`` when the arrivals stage measured it, else the row's span.
    """
    if o.kind != "object" or o.label.lower() != ARRIVAL_LABEL or getattr(o.payload, "origin", None) != "arrival":
        return False
    dwell = getattr(o.payload, "dwell", None)
    rest = float(dwell) if dwell is not None else o.end - o.start
    return rest + 1e-6 >= min_rest


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a phrase resolved to.

    Attributes:
        phrase: the phrase as given (trimmed).
        targets: what perceives it.
        via: ``phrase`` (phrasing rule), ``concept`` (the table), ``exact`` (a label name) or ``unknown``.
        concept: the table entry, for ``concept``.
        term: the word or phrase that matched ("courier", "car" in "red car").
        modifiers: words of the phrase that the targets do not check ("red").
        note: a plain-words remark.
    """

    phrase: str
    targets: Targets
    via: Via
    concept: Concept | None = None
    term: str = ""
    modifiers: tuple[str, ...] = ()
    note: str = ""

    @property
    def name(self) -> str:
        """The concept's name, else the matched term."""
        return self.concept.name if self.concept is not None else self.term

    @property
    def noun(self) -> str:
        """How an answer names it."""
        return (self.concept.noun or self.concept.name) if self.concept is not None else self.term


def concept_targets(concept: Concept) -> Targets:
    """The targets of one table entry, with sound descendants expanded."""
    sounds: list[str] = []
    for label in concept.sounds:
        sounds.append(label)
        sounds.extend(sorted(audioset.descendants(label)))
    sounds.extend(concept.exact_sounds)
    return Targets(objects=concept.objects, sounds=tuple(dict.fromkeys(sounds)), any_of=concept.any_of,
                   arrival=concept.arrival, hints=concept.hints)


@lru_cache(maxsize=1)
def _word_index() -> dict[str, Concept]:
    index: dict[str, Concept] = {}
    for concept in CONCEPTS:
        for word in (concept.name, *concept.words):
            index.setdefault(word, concept)
    return index


def concept_named(name: str) -> Concept | None:
    """The table entry called ``name`` (its canonical name), or ``None``."""
    return next((c for c in CONCEPTS if c.name == name), None)


def lookup(word: str) -> Concept | None:
    """The concept a word or phrase names, plurals included (``"boxes"`` → package)."""
    index = _word_index()
    word = " ".join(word.lower().split())
    for form in _singulars(word):
        if form in index:
            return index[form]
    return None


def _singulars(word: str) -> list[str]:
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    return forms


def find_concepts(text: str) -> list[tuple[int, int, str, Concept]]:
    """Concept words inside ``text`` (lower-case), longest first, never overlapping, in text order.

    Returns:
        ``(start, end, word, concept)`` per mention.
    """
    hits: list[tuple[int, int, str, Concept]] = []
    taken = [False] * len(text)
    for word, concept in sorted(_word_index().items(), key=lambda wc: -len(wc[0])):
        for m in re.finditer(rf"\b{re.escape(word)}(?:e?s)?\b", text):
            if not any(taken[m.start():m.end()]):
                hits.append((m.start(), m.end(), text[m.start():m.end()], concept))
                taken[m.start():m.end()] = [True] * (m.end() - m.start())
    return sorted(hits, key=lambda h: h[0])


def name_index(labels: Iterable[str]) -> dict[str, str]:
    """Lower-case names → label, including each comma part ("Fire engine, fire truck (siren)")."""
    labels = list(labels)
    index: dict[str, str] = {}
    for label in labels:
        index.setdefault(label.lower(), label)
    for label in labels:
        for part in re.sub(r"\(.*?\)", "", label).split(","):
            index.setdefault(part.strip().lower(), label)
    return index


@lru_cache(maxsize=8)
def _default_index(objects: tuple[str, ...], sounds: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    return name_index(objects), name_index(sounds)


# ------------------------------------------------------------------------------------------- phrasing

_QUOTED = re.compile(r"[\"“‘«]([^\"”’»]+)[\"”’»]|(?<![A-Za-z])'([^']+)'(?![A-Za-z])")
_SPEECH = re.compile(rf"{SPEECH_VERBS_RE}[\s:,]*(.+)$", re.I)
_TEXT_NOUN = re.compile(TEXT_WORDS_RE, re.I)
_TEXT_SAYS = re.compile(rf"^(?:the\s+|a\s+)?{TEXT_WORDS_RE}\s+(?:that\s+)?(?:contains?|says?|reads?|reading|with|"
                        r"saying)\s+(.+)$", re.I)
_READS = re.compile(r"^(?:reads?|written)\s+(.+)$", re.I)
_ARTICLES = re.compile(r"^(?:a|an|the|some|any|my|our|one)\s+", re.I)
_TRAILING = re.compile(r"\s+(?:at|in|on|near|by|inside|outside|from|with|of|into|through|entering|leaving|"
                       r"arriving|approaching|coming)\b.*$", re.I)


def _quoted(text: str) -> list[str]:
    return [(a or b).strip() for a, b in _QUOTED.findall(text) if (a or b).strip()]


def phrasing(phrase: str) -> Targets | None:
    """Speech or text named by how the phrase is written, or ``None``.

    ``someone says "help"`` → speech ``help``; ``sign reading 'OPEN'``, ``text contains PRIORITY``,
    ``PRIORITY MAIL`` → text.
    """
    p = phrase.strip()
    quoted = _quoted(p)
    speech = _SPEECH.search(p)
    if speech and not _TEXT_NOUN.search(_QUOTED.sub(" ", p)):
        said = (quoted[0] if quoted else speech.group(1)).strip(" .!?\"'“”‘’")
        if said:
            return Targets(speech=(said.lower(),))
    if quoted:
        return Targets(texts=tuple(quoted))
    for pattern in (_TEXT_SAYS, _READS):
        m = pattern.match(p)
        if m and m.group(m.lastindex or 1).strip(" \"'“”‘’"):
            return Targets(texts=(m.group(m.lastindex or 1).strip(" \"'“”‘’"),))
    letters = [ch for ch in p if ch.isalpha()]
    if len(letters) >= 2 and all(ch.isupper() for ch in letters) and lookup(p) is None:
        return Targets(texts=(p,))
    return None


def head(phrase: str) -> tuple[str, list[str]]:
    """Strip articles and trailing qualifiers: ``"a red car in the driveway"`` → ``("red car", ["in the …"])``."""
    text = " ".join(phrase.strip().lower().split())
    text = _ARTICLES.sub("", text)
    h = _TRAILING.sub("", text).strip() or text
    dropped = [text[len(h):].strip()] if h != text else []
    return h, dropped


# ------------------------------------------------------------------------------------------- resolve

def resolve(phrase: str, object_labels: Sequence[str] | None = None,
            sound_labels: Sequence[str] | None = None) -> Resolution:
    """What perceives ``phrase``: the one lookup every layer uses.

    Args:
        phrase: a concept as a user writes it.
        object_labels: detector labels for the exact-name step (default: COCO-80).
        sound_labels: sound labels for the exact-name step (default: YAMNet's 521 AudioSet names).

    Returns:
        The resolution; ``via == "unknown"`` with empty targets when nothing matched.
    """
    p = " ".join(phrase.strip().split())
    by_phrasing = phrasing(p)
    if by_phrasing is not None:
        return Resolution(p, by_phrasing, "phrase", term=p)
    objects, sounds = _default_index(tuple(object_labels if object_labels is not None else COCO_LABELS),
                                     tuple(sound_labels if sound_labels is not None else audioset.labels()))
    h, dropped = head(p)
    words = h.split()
    tails = [" ".join(words[i:]) for i in range(len(words))] if words else [h]
    for tail in tails:
        found = _one(tail, objects, sounds)
        if found is not None:
            return _with_modifiers(p, found, h[: len(h) - len(tail)].strip(), dropped, objects, sounds)
    inside = find_concepts(h)
    if inside:
        start, end, word, concept = inside[0]
        found = Resolution(p, concept_targets(concept), "concept", concept, word)
        rest = (h[:start] + " " + h[end:]).strip()
        return _with_modifiers(p, found, rest, dropped, objects, sounds)
    return Resolution(p, Targets(), "unknown", term=h)


def _one(text: str, objects: dict[str, str], sounds: dict[str, str]) -> Resolution | None:
    concept = lookup(text)
    if concept is not None:
        return Resolution(text, concept_targets(concept), "concept", concept, text, note=concept.note)
    obj, snd = objects.get(text), sounds.get(text)
    if obj is None and snd is None:
        return None
    snd_family = (snd, *sorted(audioset.descendants(snd))) if snd is not None else ()
    return Resolution(text, Targets(objects=(obj,) if obj else (), sounds=snd_family), "exact", term=text)


def _with_modifiers(phrase: str, found: Resolution, prefix: str, dropped: list[str],
                    objects: dict[str, str], sounds: dict[str, str]) -> Resolution:
    """Report words the targets do not check (a modifier naming the same thing is no modifier)."""
    mods = []
    for w in [prefix, *dropped]:
        if not w:
            continue
        same = _one(w, objects, sounds)
        if same is None or not (same.targets.pairs() & found.targets.pairs()):
            mods.append(w)
    note = found.note
    if mods:
        extra = f"only {found.term!r} is checked; {', '.join(repr(m) for m in mods)} is not"
        note = f"{note}; {extra}" if note else extra
    return Resolution(phrase, found.targets, found.via, found.concept, found.term, tuple(mods), note)


def carrier(word: str) -> Concept | None:
    """The concept a text word is written on: ``label`` → package, ``plate`` → car."""
    name = TEXT_CARRIERS.get(word)
    return concept_named(name) if name else None


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
