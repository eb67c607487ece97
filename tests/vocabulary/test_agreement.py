"""Every concept word means the same to watching, triggering and asking.

For each word of the vocabulary the targets ``watch --for WORD`` routes to (the concept mapper),
the rules ``--for WORD`` compiles to, and the subject of "when did I see/hear WORD?" are reduced
to one canonical set of ``(channel, label)`` pairs and compared.
"""

from __future__ import annotations

import pytest

from scenewatch.perception.concepts import ConceptMapper, ConceptTarget, StageName
from scenewatch.reasoning.planner import plan
from scenewatch.triggers.rules import Matcher, rules_from_phrases
from scenewatch.vocabulary import audioset
from scenewatch.vocabulary.concepts import resolve
from scenewatch.vocabulary.labels import COCO_LABELS
from scenewatch.vocabulary.table import CONCEPTS

WORDS = sorted({w for c in CONCEPTS for w in (c.name, *c.words)})
STAGES: tuple[StageName, ...] = ("objects", "arrivals", "sounds", "text", "speech")
#: A detector and a tagger that know every label the vocabulary names (open-vocabulary names included).
ALL_OBJECTS = tuple(dict.fromkeys([*COCO_LABELS, *(o for c in CONCEPTS for o in c.objects)]))
MAPPER = ConceptMapper(stages=STAGES, object_labels=ALL_OBJECTS, sound_vocabulary=audioset.labels(),
                       use_embeddings=False)

Pairs = frozenset[tuple[str, str]]


def _target_pair(t: ConceptTarget) -> tuple[str, str]:
    if t.stage == "arrivals":
        return ("arrival", f"{t.min_rest:g}")
    if t.label == "*":
        return ("any", t.stage)
    if t.via == "hint":
        return ("hint", t.label.lower())
    return ({"objects": "object", "sounds": "sound"}.get(t.stage, t.stage), t.label.lower())


def watched(word: str) -> Pairs:
    (m,) = MAPPER.map([word]).mappings
    assert not m.unavailable
    return frozenset(_target_pair(t) for t in m.targets)


def triggered(word: str) -> Pairs:
    out: set[tuple[str, str]] = set()
    for rule in rules_from_phrases([word]):
        m = Matcher.from_settings(rule)
        if m.targets is not None:
            out |= {p for p in m.targets.pairs() if p[0] != "hint"}  # hints compile to their own rule
        elif rule.name.endswith("-label"):
            out |= {("hint", t) for t in m.texts}
        elif m.kind in ("object", "sound"):
            assert m.labels, rule
            out |= {(m.kind, x) for x in m.labels}
        elif m.kind in ("text", "speech"):
            out |= {(m.kind, t) for t in m.texts} if m.texts else {("any", m.kind)}
        else:
            pytest.fail(f"{word!r} compiled to a rule of any kind: {rule}")
    return frozenset(out)


def asked(word: str, verb: str) -> Pairs:
    q = plan(f"when did I {verb} {word}?")
    assert q.intent == "when" and q.subjects, q
    subject = q.subjects[0]
    assert subject.targets is not None, subject
    assert subject.name == resolve(word).name
    assert set(subject.kinds) == set(subject.targets.kinds)
    return subject.targets.pairs()


def test_vocabulary_is_not_trivial() -> None:
    assert len(WORDS) > 250 and len(CONCEPTS) > 50


@pytest.mark.parametrize("word", WORDS)
def test_watch_trigger_and_question_agree(word: str) -> None:
    r = resolve(word)
    assert r.via == "concept" and not r.targets.empty, r
    expected = r.targets.pairs()
    assert watched(word) == expected
    assert triggered(word) == expected
    assert asked(word, "see") == expected
    assert asked(word, "hear") == expected


def test_table_labels_exist() -> None:
    for c in CONCEPTS:
        for label in (*c.sounds, *c.exact_sounds):
            assert audioset.known(label), (c.name, label)
        assert c.words == tuple(w.lower() for w in c.words), c.name
        assert c.owner is None or any(o.name == c.owner for o in CONCEPTS), c.name


def test_no_word_names_two_concepts() -> None:
    seen: dict[str, str] = {}
    for c in CONCEPTS:
        for w in (c.name, *c.words):
            assert seen.setdefault(w, c.name) == c.name, f"{w!r} names {seen[w]!r} and {c.name!r}"
