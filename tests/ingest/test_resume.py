"""Crash safety: kill ``scenewatch watch`` mid-ingest, check the database, resume.

The input is the scene fixture looped five times (150 s at 320×180), so its ground truth
repeats every 30 s: the red circle moves at 2–6 s, the package slides in at 8–9 s and
vanishes at 20 s. After a SIGKILL the SQLite file must be intact with a ``processed_until``
watermark covering every stored row; a second run must resume at the watermark and end with
exactly the motion spans of the ground truth, none duplicated across the resume point.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.types import Observation

HERE = Path(__file__).resolve().parent
SCENE = HERE.parent / "fixtures" / "scene" / "scene.mp4"
LOOPS = 5
LOOP_SECONDS = 30.0
# (start, end, band) of the motion in each 30 s loop; band = rows of the 320×180 frame it covers.
MOTION_TRUTH = [(2.0, 6.0, "upper"), (8.0, 9.0, "lower"), (20.0, 20.0, "lower")]
TOLERANCE = 0.5  # s: keyframes are sampled at ≥1 fps, changes at most every 0.2 s
KILL_AFTER = 63.0  # s of media: inside the circle's motion in the third loop (62–66 s)


def _watch_cmd(video: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "scenewatch.cli.main", "watch", str(video), "--db", str(db),
            "--stages", "scene", "--json"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}


def _watermark(db: Path) -> tuple[float, str] | None:
    """``(processed_until, status)`` read like any outside reader would, or None before it exists."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0) as con:
            row = con.execute("SELECT processed_until, status FROM sources").fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return None
    return (float(row[0]), str(row[1])) if row else None


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    out = tmp_path_factory.mktemp("resume") / "looped.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(LOOPS - 1), "-i", str(SCENE),
         "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-c:a", "aac", "-b:a", "32k", str(out)],
        check=True, timeout=120,
    )
    return out


def _check_consistent(db: Path) -> tuple[float, list[Observation]]:
    """Integrity, FTS index and watermark checks; returns the watermark and the rows."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.execute("INSERT INTO observations_fts(observations_fts) VALUES('integrity-check')")
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        bad = con.execute('SELECT COUNT(*) FROM observations WHERE "end" < start OR source_id NOT IN '
                          "(SELECT id FROM sources)").fetchone()[0]
        assert bad == 0
        n_rows = con.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        n_fts = con.execute("SELECT COUNT(*) FROM observations_fts").fetchone()[0]
        assert n_rows == n_fts
    finally:
        con.close()
    with TimelineStore(db) as store:
        (source,) = store.list_sources()
        rows = store.observations(source_id=source["id"])
    watermark = float(source["processed_until"])
    # Everything stored lies before the watermark: a resume from there loses and repeats nothing.
    assert all(o.start <= watermark + 1e-6 for o in rows), (watermark, rows)
    return watermark, rows


def _assert_truth(motion: list[Observation], resume_at: float) -> None:
    motion = sorted(motion, key=lambda o: o.start)
    # No duplicates: spans never overlap or repeat.
    for a, b in pairwise(motion):
        assert b.start >= a.end - 1e-6, f"overlapping/duplicate motion rows {a} and {b}"
    # A span cut by the kill may be stored as two rows that meet at the resume point: join them.
    merged: list[tuple[float, float, tuple[float, float, float, float] | None]] = []
    for o in motion:
        if merged and merged[-1][1] <= resume_at <= o.start and o.start - merged[-1][1] < 1.0:
            merged[-1] = (merged[-1][0], o.end, merged[-1][2])
        else:
            merged.append((o.start, o.end, o.box))
    expected = [(k * LOOP_SECONDS + s, k * LOOP_SECONDS + e, band)
                for k in range(LOOPS) for s, e, band in MOTION_TRUTH]
    assert len(merged) == len(expected), (merged, expected)
    for (start, end, box), (t0, t1, band) in zip(merged, expected, strict=True):
        assert start == pytest.approx(t0, abs=TOLERANCE) and end == pytest.approx(t1, abs=TOLERANCE), \
            ((start, end), (t0, t1))
        assert box is not None
        if band == "upper":  # the circle: y 84..140 of 360 → 42..70 of 180
            assert box[1] <= 42 and 70 <= box[3] <= 120
        else:  # the package rests at the bottom right
            assert box[2] == 320 and box[3] == 180


@pytest.mark.timeout(240)
def test_kill_mid_ingest_then_resume(long_video: Path, tmp_path: Path) -> None:
    db = tmp_path / "timeline.db"
    proc = subprocess.Popen(_watch_cmd(long_video, db), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            mark = _watermark(db)
            if mark is not None and mark[0] >= KILL_AFTER:
                break
            assert proc.poll() is None, f"watch ended before the kill: {proc.communicate()}"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)

    killed_at, rows = _check_consistent(db)
    assert KILL_AFTER <= killed_at < LOOPS * LOOP_SECONDS - 5
    assert _watermark(db) == (killed_at, "running")  # it never got to say "done"
    assert {o.kind for o in rows} <= {"motion", "scene"}
    assert any(o.kind == "motion" and o.end <= killed_at for o in rows)

    again = subprocess.run(_watch_cmd(long_video, db), env=_env(), capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    (summary,) = json.loads(again.stdout)
    summary_: dict[str, Any] = summary
    assert summary_["status"] == "done" and summary_["error"] is None
    assert summary_["resumed_from"] == pytest.approx(killed_at)
    assert summary_["media_time"] == pytest.approx(LOOPS * LOOP_SECONDS, abs=0.2)
    # Only the rest was decoded (25 fps), not the whole file again.
    assert summary_["frames"] == pytest.approx((LOOPS * LOOP_SECONDS - killed_at) * 25, abs=30)

    done_at, rows = _check_consistent(db)
    assert done_at == pytest.approx(LOOPS * LOOP_SECONDS, abs=0.2)
    assert _watermark(db) == (done_at, "done")
    assert not [o for o in rows if o.kind == "scene"]  # the loop seams are not cuts
    _assert_truth([o for o in rows if o.kind == "motion"], killed_at)

    # A third run finds the source done and stores nothing more.
    third = subprocess.run(_watch_cmd(long_video, db), env=_env(), capture_output=True, text=True, timeout=60)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)[0]["status"] == "already done"
    assert len(_check_consistent(db)[1]) == len(rows)
