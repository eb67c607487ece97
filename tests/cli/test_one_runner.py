"""One runner: the file commands store exactly what ``watch`` stores for the same stage.

``detect FILE --json`` and ``watch FILE --stages scene,objects`` give the same object rows,
``read`` the same text rows as the ``text`` stage, ``transcribe`` the same speech rows as the
``speech`` stage, on the bundled scene and the bedroom clip. Also: no CLI module imports
perception or memory (surfaces call runtime.service only).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIX = Path(__file__).parents[1] / "fixtures"
SCENE = FIX / "scene" / "scene.mp4"
BEDROOM = FIX / "video" / "sam2_bedroom.mp4"
CLI_DIR = Path(__file__).parents[2] / "scenewatch" / "cli"
SERVICE_ONLY = ("detect.py", "read.py", "transcribe.py", "sounds.py", "watch.py", "timeline.py", "info.py", "ask.py",
                "report.py", "search.py", "concepts.py")


def run(*args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    r = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", *args], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _watched(tmp_path: Path, video: Path, stages: str, kind: str, *extra: str) -> list[dict[str, Any]]:
    db = tmp_path / f"{kind}.db"
    run("watch", str(video), "--db", str(db), "--stages", stages, "--json", *extra)
    return list(run("timeline", "--db", str(db), "--kind", kind, "--json"))


@pytest.mark.parametrize(("video", "concept"), [(SCENE, "frisbee"), (BEDROOM, "child")], ids=["scene", "bedroom"])
def test_detect_equals_watch_objects(video: Path, concept: str, tmp_path: Path) -> None:
    detected = run("detect", str(video), "--for", concept, "--json", "--media-dir", str(tmp_path / "m"))
    watched = _watched(tmp_path, video, "scene,objects", "object", "--for", concept)
    assert detected, "the concept is in the clip"
    assert [(r["label"], r["start"], r["end"], r["track_id"]) for r in detected] == \
        [(r["label"], round(r["start"], 3), round(r["end"], 3), r["track_id"]) for r in watched]


def test_read_equals_watch_text(tmp_path: Path) -> None:
    read = run("read", str(SCENE), "--json")
    watched = _watched(tmp_path, SCENE, "text", "text")
    assert [r["text"] for r in read] == ["PRIORITY MAIL"]
    assert [(r["text"], r["start"], r["end"]) for r in read] == \
        [(r["text"], round(r["start"], 2), round(r["end"], 2)) for r in watched]


def test_transcribe_equals_watch_speech(tmp_path: Path) -> None:
    said = run("transcribe", str(SCENE), "--json")
    watched = _watched(tmp_path, SCENE, "speech", "speech")
    assert said and "fellow americans" in " ".join(r["text"] for r in said).lower()
    assert [(r["text"], r["start"], r["end"]) for r in said] == \
        [(r["text"], round(r["start"], 3), round(r["end"], 3)) for r in watched]


@pytest.mark.parametrize("name", SERVICE_ONLY)
def test_cli_calls_the_service_layer_only(name: str) -> None:
    tree = ast.parse((CLI_DIR / name).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    bad = {m for m in imported if m.startswith(("scenewatch.perception", "scenewatch.memory"))}
    assert not bad, f"cli/{name} imports {bad}: call scenewatch.runtime.service instead"
