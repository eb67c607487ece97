"""The CLI: watch/timeline/info on real media; bad input is one clear line, no traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "scenewatch.cli.main"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def test_watch_timeline_info(tmp_path: Path, fixtures: Path) -> None:
    db = tmp_path / "t.db"
    r = run("watch", str(fixtures / "scene" / "scene.mp4"), "--db", str(db), "--stages", "scene", "--json")
    assert r.returncode == 0, r.stderr
    [summary] = json.loads(r.stdout)
    assert summary["status"] == "done" and summary["observations"] >= 3
    rows = json.loads(run("timeline", "--db", str(db), "--json", "--kind", "motion").stdout)
    assert rows and all(row["kind"] == "motion" for row in rows)
    info = json.loads(run("info", str(fixtures / "video" / "bigbuckbunny.mp4"), "--json").stdout)[0]
    assert (info["width"], info["height"], info["audio_channels"]) == (1280, 720, 6)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["watch", "/no/such/file.mp4"], "no such file or folder"),
        (["info", "/no/such/file.mp4"], "no such file or folder"),
        (["watch", "FIXT/scene/scene.mp4", "--stages", "nonsense"], "unknown stage 'nonsense'"),
        (["watch", "FIXT/scene/scene.mp4", "--db", "/proc/forbidden/t.db"], "cannot create timeline database"),
        (["timeline", "--db", "TMP/missing.db"], "no timeline database"),
        (["watch", "FIXT/scene/scene.mp4", "--config", "TMP/bad.yaml"], "unknown key 'ingest.bogus'"),
    ],
)
def test_bad_input_is_one_line(args: list[str], needle: str, tmp_path: Path, fixtures: Path) -> None:
    (tmp_path / "bad.yaml").write_text("ingest:\n  bogus: 1\n")
    args = [a.replace("FIXT", str(fixtures)).replace("TMP", str(tmp_path)) for a in args]
    r = run(*args, env={"SCENEWATCH_DB": str(tmp_path / "default.db")})
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3  # one message (rich may wrap long lines)


def test_newer_schema_db_is_refused_and_kept(tmp_path: Path, fixtures: Path) -> None:
    db = tmp_path / "t.db"
    assert run("watch", str(fixtures / "scene" / "scene.mp4"), "--db", str(db), "--stages", "scene").returncode == 0
    with sqlite3.connect(db) as c:
        n = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        c.execute("PRAGMA user_version=99")
    r = run("watch", str(fixtures / "speech" / "jfk.flac"), "--db", str(db), "--stages", "scene")
    assert r.returncode == 2 and "newer than this scenewatch" in r.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == n
