"""The whole loop on real media: watch the shared front-door scene, trigger, ask, search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "scenewatch.cli.main"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=os.environ.copy())


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("rapidocr")
    db = tmp_path_factory.mktemp("e2e") / "t.db"
    scene = Path(__file__).parent / "fixtures" / "scene" / "scene.mp4"
    r = _cli("watch", str(scene), "--db", str(db), "--for", "doorbell, PRIORITY MAIL", "--json")
    assert r.returncode == 0, r.stderr
    return db


def test_every_stage_observes_its_truth(watched: Path, scene_truth: dict) -> None:
    rows = json.loads(_cli("timeline", "--db", str(watched), "--json").stdout)
    by_kind: dict[str, list[dict]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    [text] = [r for r in by_kind["text"] if "PRIORITY" in r["text"]]  # read once, not per frame
    assert text["start"] == pytest.approx(8.8, abs=1.0) and text["end"] == pytest.approx(20.0, abs=1.0)
    bells = [r for r in by_kind["sound"] if r["label"] in ("Doorbell", "Ding-dong")]
    assert bells and bells[0]["start"] == pytest.approx(12.0, abs=0.5)
    [speech] = by_kind["speech"]
    assert "fellow americans" in speech["text"].lower() and speech["start"] == pytest.approx(15.1, abs=0.5)
    assert any(m["start"] == pytest.approx(2.0, abs=0.3) for m in by_kind["motion"])


def test_doorbell_trigger_fires_once(watched: Path) -> None:
    from scenewatch.memory.store import TimelineStore

    with TimelineStore(watched, readonly=True) as store:
        bells = store.events(rule="doorbell")
        texts = store.events(rule="priority-mail")
    assert len(bells) == 1 and bells[0].start == pytest.approx(12.0, abs=2.0)
    assert len(texts) == 1 and texts[0].start == pytest.approx(8.8, abs=1.0)


def test_ask_package_cites_time_and_label(watched: Path) -> None:
    r = _cli("ask", str(watched), "when was the package delivered and what does the label say?", "--json",
             "--reasoner", "none")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "PRIORITY MAIL" in out["answer"]
    starts = [e["start"] for e in out["evidence"]]
    assert any(7.0 <= s <= 10.0 for s in starts)  # box slides in 8.0-9.0 s
    assert all(e["observation_id"] for e in out["evidence"])
