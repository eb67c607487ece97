"""``scenewatch search`` / ``reembed`` / ``prune`` end to end (subprocess, real MiniLM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from memory_corpus import fill_store, scene_observations

from scenewatch.memory.store import TimelineStore

CLI = [sys.executable, "-m", "scenewatch.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("cli") / "t.db"
    with TimelineStore(path) as store:
        fill_store(store, scene_observations())
    return path


def test_reembed_then_search_json(db: Path) -> None:
    r = run("reembed", "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["embedded"] == len(scene_observations()) and result["dim"] == 384 and "MiniLM" in result["model"]
    r = run("search", "a parcel was delivered", "--db", str(db), "--json", "-n", "3")
    assert r.returncode == 0, r.stderr
    moments = json.loads(r.stdout)
    assert moments[0]["label"] == "package" and moments[0]["matched_by"] == ["vector"]
    r = run("search", 'PRIORITY "MAIL" NEAR *', "--db", str(db), "--json", "--kind", "text",
            "--source", "scene", "--since", "0:05", "--until", "15")
    [top] = json.loads(r.stdout)
    assert (top["snippet"], top["start"], top["end"]) == ("PRIORITY MAIL", 9.0, 16.0)  # rows starting ≤ 15 s
    r = run("search", "doorbell", "--db", str(db))  # table output on stderr console
    assert r.returncode == 0 and "Doorbell" in r.stderr + r.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["search", "x", "--since", "abc"], "not a media time: 'abc'"),
    (["prune"], "nothing to prune by"),
])
def test_bad_input_is_one_line(db: Path, args: list[str], needle: str) -> None:
    r = run(*args, "--db", str(db))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_prune_dry_run_json(db: Path) -> None:
    r = run("prune", "--days", "30", "--dry-run", "--json", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"observations": 0, "events": 0, "thumbnails": 0, "bytes_freed": 0,
                                    "media_bytes_after": 0, "dry_run": True}
