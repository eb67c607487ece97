"""``scenewatch outbox list|flush``: failed deliveries are visible and delivered on demand."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

from scenewatch.memory.store import TimelineStore
from scenewatch.triggers.actions import ActionDispatcher
from scenewatch.triggers.engine import TriggerEngine
from scenewatch.triggers.settings import ActionSettings, RuleSettings, TriggerSettings
from scenewatch.types import Observation, SourceInfo

CLI = [sys.executable, "-m", "scenewatch.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ))


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, object]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.headers.get("Idempotency-Key", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fire(db: Path, port: int, out: Path) -> int:
    """A person for 4 s fires one event with a webhook (receiver down) and a command action."""
    writer = f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read().replace(chr(10), ' ') + chr(10))"
    rule = RuleSettings(name="person", kind="object", label="person", actions=[
        ActionSettings(type="webhook", url=f"http://127.0.0.1:{port}/hook", timeout=2),
        ActionSettings(type="command", command=[sys.executable, "-c", writer])])
    with TimelineStore(db) as store:
        store.upsert_source(SourceInfo(id="cam", uri="synth://cam", kind="file", duration=10.0, width=640, height=360,
                                       fps=25.0))
        rows = [Observation("object", "cam", 2.0 + i, 3.0 + i, "person", confidence=0.9, track_id=1,
                            box=(10.0, 10.0, 100.0, 200.0)) for i in range(4)]
        ids = store.commit_batch(rows, progress=("cam", 10.0))
        from dataclasses import replace

        events = TriggerEngine([rule], store).on_observations([replace(r, id=i) for r, i in zip(rows, ids,
                                                                                                 strict=True)])
        delivered = ActionDispatcher(store, TriggerSettings(rules=[rule], retry_base=600.0)).deliver_due()
    assert len(events) == 1
    return delivered


def test_outbox_list_and_flush(tmp_path: Path) -> None:
    db, out, port = tmp_path / "t.db", tmp_path / "cmd.jsonl", _free_port()
    assert _fire(db, port, out) == 1  # the command ran; the webhook found nobody listening
    assert len(out.read_text().splitlines()) == 1

    listed = json.loads(run("outbox", "list", "--db", str(db), "--json").stdout)
    assert [(r["action"], r["status"], r["attempts"]) for r in listed] == [("webhook", "retrying", 1)]
    assert listed[0]["rule"] == "person" and "Connect" in listed[0]["last_error"]

    still_down = run("outbox", "flush", "--db", str(db))
    assert still_down.returncode == 2 and "delivered 0, still pending 1" in still_down.stderr
    assert still_down.stderr.strip().splitlines()[-1].startswith("error: 1 deliveries still pending")

    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flushed = run("outbox", "flush", "--db", str(db), "--json")  # backoff would wait; flush does not
    finally:
        server.shutdown()
        server.server_close()
    assert flushed.returncode == 0, flushed.stderr
    assert json.loads(flushed.stdout) == {"delivered": 1, "pending": 0, "retried_given_up": 0}
    [(key, body)] = _Receiver.received
    assert key and body["rule"] == "person" and body["start"] == 2.0
    assert json.loads(run("outbox", "list", "--db", str(db), "--json").stdout) == []
    everything = json.loads(run("outbox", "list", "--all", "--db", str(db), "--json").stdout)
    assert sorted((r["action"], r["status"]) for r in everything) == [("command", "delivered"),
                                                                     ("webhook", "delivered")]
    assert len(out.read_text().splitlines()) == 1  # flushing never delivers a row twice


def test_outbox_without_database_is_one_line(tmp_path: Path) -> None:
    r = run("outbox", "list", "--db", str(tmp_path / "none.db"))
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "Traceback" not in r.stderr
