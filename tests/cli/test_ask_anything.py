"""``scenewatch ask`` on media that was never watched: one command watches it first, then answers.

Ground truth: the bundled front-door scene (tests/fixtures/scene/scene.json) has a doorbell at
12.0 s and speech from 15.1 s; two copies in a folder are two sources, and an answer across them
cites both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCENE = Path(__file__).resolve().parents[1] / "fixtures" / "scene" / "scene.mp4"
CLI = [sys.executable, "-m", "scenewatch.cli.main"]
# Only the audio stages: enough for these questions and quick on 2 cores.
ENV = {**os.environ, "SCENEWATCH_PERCEPTION__STAGES": '["speech", "sounds"]', "SCENEWATCH_REASONER__BACKEND": "none"}


def _ask(target: Path | str, question: str, db: Path) -> dict:
    r = subprocess.run([*CLI, "ask", str(target), question, "--db", str(db), "--json"], capture_output=True,
                       text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_ask_on_an_unwatched_file_watches_it_first(tmp_path: Path) -> None:
    clip = tmp_path / "front door.mp4"
    shutil.copy(SCENE, clip)
    db = tmp_path / "t.db"
    result = _ask(clip, "did the doorbell ring?", db)
    assert result["answer"].lower().startswith("yes")
    (bell,) = [e for e in result["evidence"] if e["kind"] == "sound"][:1]
    assert bell["start"] == pytest.approx(12.0, abs=0.5)
    # Asked again, the stored timeline answers; the file is not ingested twice.
    again = _ask(clip, "did the doorbell ring?", db)
    assert [e["observation_id"] for e in again["evidence"]] == \
        [e["observation_id"] for e in result["evidence"]]


def test_a_question_across_two_sources_cites_both(tmp_path: Path) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    for name in ("porch.mp4", "garden.mp4"):
        shutil.copy(SCENE, folder / name)
    result = _ask(folder, "what was said?", tmp_path / "t.db")
    sources = {e["source_id"] for e in result["evidence"] if e["kind"] == "speech"}
    assert len(sources) == 2
    assert "fellow americans" in result["answer"].lower()


def test_ask_on_a_missing_file_is_one_error_line(tmp_path: Path) -> None:
    r = subprocess.run([*CLI, "ask", str(tmp_path / "nope.mp4"), "anything?", "--db", str(tmp_path / "t.db")],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert [line for line in r.stderr.splitlines() if line.startswith("error:")]
