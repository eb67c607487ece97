"""``scenewatch watch FILE --db postgresql://…`` end to end, then ``timeline`` and ``search`` read it back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "scene" / "scene.mp4"
CLI = [sys.executable, "-m", "scenewatch.cli.main"]
KEYFRAME = 1.0  # seconds: a span may start up to one keyframe interval after the truth


def run(*args: str, media: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SCENEWATCH_STORE__MEDIA_DIR=str(media))
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_watch_into_postgres_then_read_back(pg_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    r = run("watch", str(FIXTURE), "--db", pg_url, media=media)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    rows = _json(run("timeline", "--db", pg_url, "--json", media=media))
    truth = json.loads((FIXTURE.parent / "scene.json").read_text())
    text = next(o for o in rows if o["kind"] == "text")
    assert text["text"] == "PRIORITY MAIL" and 8.8 - KEYFRAME <= text["start"] <= 8.8 + KEYFRAME
    speech = next(o for o in rows if o["kind"] == "speech")
    assert "fellow Americans" in speech["text"] and abs(speech["start"] - truth["speech"][0]["voiced_start"]) < 1.0
    sound = next(o for o in rows if o["kind"] == "sound")
    assert abs(sound["start"] - truth["sound_events"][0]["start"]) < 1.0 and "Doorbell" in sound["text"]

    moments = _json(run("search", "priority mail", "--db", pg_url, "--json", "-n", "3", media=media))
    assert moments[0]["kind"] == "text" and "keyword" in moments[0]["matched_by"]
    moments = _json(run("search", "a man giving a speech", "--db", pg_url, "--json", "-n", "3", media=media))
    assert any(m["kind"] == "speech" for m in moments)  # no shared word: found by its vector (pgvector)
    with psycopg.connect(pg_url) as c:
        n_obs, n_vec = c.execute("SELECT (SELECT count(*) FROM observations), "
                                 "(SELECT count(*) FROM observation_vectors)").fetchone() or (0, 0)
    assert n_obs == len(rows) and n_vec == n_obs

    # Watching the same file again into the same database adds nothing (idempotent keys, stage progress).
    r = run("watch", str(FIXTURE), "--db", pg_url, media=media)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(_json(run("timeline", "--db", pg_url, "--json", media=media))) == len(rows)
