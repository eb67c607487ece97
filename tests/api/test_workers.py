"""Source workers on a real live stream: status while running, a reconnect counted, clean stop.

ffmpeg serves the front-door scene as HTTP MPEG-TS at real speed on 127.0.0.1; the worker
watches it through the real pipeline (scene + sounds stages, to stay within 2 cores). The
server is killed and restarted on the same port mid-run: the worker must count a reconnect and
keep going; ``shutdown`` must stop it and leave everything it perceived committed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scenewatch.runtime import service
from scenewatch.runtime.server import SourceManager, SourceStatus
from tests.api.serving_helpers import SCENE, free_port, make_config

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")]


def _serve_ts(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(SCENE), "-c", "copy",
                             "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/live.ts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_live_worker_status_reconnect_and_clean_stop(tmp_path: Path) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}/live.ts"
    config = make_config(tmp_path / "live.db", perception={"stages": ["scene", "sounds"]},
                         ingest={"reconnect": {"initial_delay": 0.2, "max_delay": 1.0, "give_up_after": 30,
                                               "open_timeout": 3}})
    server = _serve_ts(port)
    manager = SourceManager(config)
    try:
        time.sleep(0.5)
        status: SourceStatus = manager.add(uri)
        assert status.live
        _wait(lambda: status.state == "running" and status.keyframes > 3, 40, "the worker to run")
        _wait(lambda: status.fps > 0 and status.lag is not None, 10, "fps and lag")
        assert status.source_ids
        server.kill()
        server.wait()
        time.sleep(1.0)
        server = _serve_ts(port)  # same port: the source reconnects
        before = status.keyframes
        _wait(lambda: status.keyframes > before + 3, 40, "keyframes after the reconnect")
    finally:
        manager.shutdown(timeout=30)
        server.kill()
    assert status.state == "stopped"
    with service.open_store(config) as store:
        row = store.list_sources()[0]
        gaps = store.observations(source_id=row["id"], kinds=["gap"])
    assert row["status"] != "running", row  # the pipeline closed the source on stop
    assert len(gaps) >= 1 and status.reconnects >= 1
    assert row["processed_until"] > 0
