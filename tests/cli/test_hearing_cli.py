"""``scenewatch transcribe`` and ``scenewatch sounds`` end to end, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("onnxruntime")

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCENEWATCH_DB": str(Path(os.environ.get("TMPDIR", "/tmp")) / "hearing-cli.db")}
    return subprocess.run([sys.executable, "-m", "scenewatch.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_transcribe_json() -> None:
    res = run("transcribe", str(FIX / "speech" / "jfk.flac"), "--json")
    assert res.returncode == 0, res.stderr
    segments = json.loads(res.stdout)
    assert set(segments[0]) == {"start", "end", "text", "language"} and segments[0]["language"] == "en"
    text = " ".join(s["text"] for s in segments).lower()
    assert "ask not what your country can do for you" in text
    assert segments[0]["start"] < 0.5 and abs(segments[-1]["end"] - 10.5) < 0.6


def test_transcribe_srt_and_vtt() -> None:
    srt = run("transcribe", str(FIX / "speech" / "jfk_16k_mono.wav"), "--srt")
    assert srt.returncode == 0 and srt.stdout.startswith("1\n00:00:00,")
    assert " --> " in srt.stdout
    vtt = run("transcribe", str(FIX / "speech" / "jfk_16k_mono.wav"), "--vtt", "--model", "tiny.en")
    assert vtt.returncode == 0 and vtt.stdout.startswith("WEBVTT\n\n00:00:00.")


def test_sounds_json_on_the_scene() -> None:
    res = run("sounds", str(FIX / "scene" / "scene.mp4"), "--json")
    assert res.returncode == 0, res.stderr
    events = json.loads(res.stdout)
    assert events and set(events[0]) == {"start", "end", "label", "labels", "score"}
    assert any(e["label"] in {"Doorbell", "Ding-dong", "Ding"} and abs(e["start"] - 12.02) <= 0.5 for e in events)


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    res = run("sounds", str(FIX / "video" / "sam2_bedroom.mp4"))
    assert res.returncode == 2 and "has no audio track" in res.stderr and "Traceback" not in res.stderr
    res = run("transcribe", str(tmp_path / "missing.wav"))
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run("transcribe", str(FIX / "speech" / "jfk.flac"), "--model", "huge-v9")
    assert res.returncode == 2 and "unknown Whisper model" in res.stderr
    res = run("transcribe", str(FIX / "speech" / "jfk.flac"), "--srt", "--vtt")
    assert res.returncode != 0
