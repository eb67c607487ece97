"""Actions survive receivers that go away and come back: delivered after return, none lost or duplicated."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.triggers.actions import ActionDispatcher, OutboxWorker
from scenewatch.triggers.engine import TriggerEngine
from scenewatch.triggers.settings import ActionSettings, RuleSettings, TriggerSettings
from scenewatch.types import Observation, SourceInfo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


class _Receiver:
    """A webhook receiver that can be stopped and started on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict] = []
        self.keys: list[str] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(json.loads(body))
                outer.keys.append(self.headers["Idempotency-Key"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def _store_with_source(tmp_path: Path) -> TimelineStore:
    store = TimelineStore(tmp_path / "t.db")
    store.upsert_source(SourceInfo(id="cam", uri="cam", kind="live"))
    return store


def _bells(store: TimelineStore, engine: TriggerEngine, times: list[float]) -> list[int]:
    rows = [Observation("sound", "cam", t, t + 1, "Doorbell", confidence=0.9) for t in times]
    ids = store.commit_batch(rows)
    from dataclasses import replace

    events = engine.on_observations([replace(o, id=i) for o, i in zip(rows, ids, strict=True)])
    return [int(e.id or 0) for e in events]


@pytest.mark.timeout(60)
def test_webhook_outage_delivers_after_return_exactly_once(tmp_path: Path) -> None:
    port = _free_port()
    receiver = _Receiver(port)
    receiver.start()
    store = _store_with_source(tmp_path)
    settings = TriggerSettings(
        rules=[RuleSettings(name="bell", kind="sound", label="Doorbell", cooldown=0,
                            actions=[ActionSettings(type="webhook", url=f"http://127.0.0.1:{port}/hook",
                                                    timeout=1.0), ActionSettings(type="log")])],
        retry_base=0.2, retry_max=0.5, poll_interval=0.1, merge_gap=0.0)
    engine = TriggerEngine(settings, store)
    worker = OutboxWorker(engine.dispatcher).start()
    try:
        first = _bells(store, engine, [1.0])
        assert _wait(lambda: len(receiver.received) == 1)
        receiver.stop()
        during = _bells(store, engine, [10.0, 20.0, 30.0])
        assert _wait(lambda: store.execute("SELECT MAX(attempts) FROM outbox WHERE action='webhook'")[0][0] >= 2)
        errors = store.execute("SELECT last_error FROM outbox WHERE delivered_at IS NULL AND action='webhook'")
        assert len(errors) == 3 and "refused" in errors[0][0], "failures recorded (later rows wait their turn)"
        more = _bells(store, engine, [40.0])  # the pipeline keeps going
        receiver.start()
        assert _wait(lambda: engine.dispatcher.pending() == 0)
    finally:
        worker.stop()
        receiver.stop()
    ids = [r["event_id"] for r in receiver.received]
    assert sorted(ids) == sorted(first + during + more) and len(set(ids)) == len(ids), "none lost, none twice"
    assert ids == sorted(ids), "oldest first"
    assert len(set(receiver.keys)) == len(receiver.keys)
    assert receiver.received[0]["rule"] == "bell" and receiver.received[0]["source_id"] == "cam"


def _mosquitto(port: int, conf: Path) -> subprocess.Popen[bytes]:
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    assert _wait(up, 10), "mosquitto did not start"
    return proc


@pytest.fixture
def mqtt_port(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    import shutil

    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    yield _free_port(), tmp_path / "mosquitto.conf"


@pytest.mark.timeout(60)
def test_mqtt_broker_outage_delivers_after_return_exactly_once(tmp_path: Path, mqtt_port: tuple[int, Path]) -> None:
    import paho.mqtt.client as mqtt

    port, conf = mqtt_port
    broker = _mosquitto(port, conf)
    got: list[dict] = []
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason, props=None) -> None:
        client.subscribe("scenewatch/events", qos=1)
        connected.set()

    def on_message(client, userdata, msg) -> None:
        got.append(json.loads(msg.payload))

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_connect = on_connect
    sub.on_message = on_message
    sub.reconnect_delay_set(0.1, 0.5)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    store = _store_with_source(tmp_path)
    settings = TriggerSettings(rules=[RuleSettings(
        name="bell", kind="sound", label="Doorbell", cooldown=0,
        actions=[ActionSettings(type="mqtt", port=port, topic="scenewatch/events", timeout=2.0)])], merge_gap=0.0)
    engine = TriggerEngine(settings, store)
    try:
        assert connected.wait(10)
        first = _bells(store, engine, [1.0])
        assert engine.dispatcher.deliver_due() == 1
        assert _wait(lambda: len(got) == 1)
        broker.terminate()
        broker.wait(10)
        connected.clear()
        during = _bells(store, engine, [10.0, 20.0])
        assert engine.dispatcher.deliver_due() == 0
        assert engine.dispatcher.pending() == 2
        broker = _mosquitto(port, conf)
        assert connected.wait(15), "subscriber reconnected"
        assert engine.dispatcher.deliver_due(now=time.time() + 3600) == 2
        assert _wait(lambda: len(got) == 3)
        assert engine.dispatcher.deliver_due(now=time.time() + 3600) == 0
        time.sleep(0.3)
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.terminate()
        broker.wait(10)
    ids = [m["event_id"] for m in got]
    assert ids == first + during, "none lost, none twice, in order"


def test_command_action_and_failure_recorded(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    store = _store_with_source(tmp_path)
    ok = ActionSettings(type="command", command=[sys.executable, "-c",
                                                 f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"])
    bad = ActionSettings(type="command", command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    engine = TriggerEngine([RuleSettings(name="bell", kind="sound", label="Doorbell", actions=[ok, bad])], store)
    (eid,) = _bells(store, engine, [5.0])
    dispatcher: ActionDispatcher = engine.dispatcher
    assert dispatcher.deliver_due() == 1
    assert json.loads(out.read_text())["event_id"] == eid
    (row,) = store.execute("SELECT attempts, last_error, delivered_at FROM outbox WHERE delivered_at IS NULL")
    assert row[0] == 1 and "exit 3" in row[1]
