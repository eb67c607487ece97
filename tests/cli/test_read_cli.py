"""``scenewatch read``: JSON on an image and on a video; bad input is one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "scenewatch.cli.main"]
FIXT = Path(__file__).parents[1] / "fixtures"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180)


def test_read_image_json() -> None:
    r = run("read", str(FIXT / "ocr" / "rapidocr_latin.jpg"), "--json")
    assert r.returncode == 0, r.stderr
    [row] = json.loads(r.stdout)
    assert row["text"] == "Alphabetum in mundo hodie frequentissime adhibitum est alphabetum Latinum."
    assert row["start"] == row["end"] == 0
    assert len(row["box"]) == 4 and row["box"][0] < row["box"][2] <= 1672 and 0.9 <= row["score"] <= 1


def test_read_video_json(scene_truth: dict) -> None:
    r = run("read", str(FIXT / "scene" / "scene.mp4"), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["text"] for row in rows] == ["PRIORITY MAIL"]
    start, end = scene_truth["text"][0]["fully_visible_span"]
    assert abs(rows[0]["start"] - start) <= 1 and abs(rows[0]["end"] - end) <= 1


def test_read_table_and_no_text(tmp_path: Path) -> None:
    from PIL import Image

    r = run("read", str(FIXT / "ocr" / "rapidocr_issue_170.png"))
    assert r.returncode == 0 and "TEST" in r.stdout
    Image.new("RGB", (64, 64), "gray").save(tmp_path / "blank.png")
    r = run("read", str(tmp_path / "blank.png"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_read_bad_input_is_one_line(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    for args, needle in [
        ([str(tmp_path / "dot.png")], "too small to hold readable text"),
        (["/no/such/file.png"], "no such file"),
        ([str(FIXT / "ocr" / "rapidocr_latin.jpg"), "--backend", "nope"], "unknown text reader 'nope'"),
    ]:
        r = run("read", *args)
        assert r.returncode == 2, r.stderr
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
