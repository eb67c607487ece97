"""MQTT + Home Assistant discovery against a real mosquitto on 127.0.0.1.

Events come from the real pipeline run on the front-door scene (doorbell, package label) plus
events stored while the broker is down and after it is back: every event must reach a
subscriber exactly once, in order, across a broker kill (SIGKILL) and restart.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scenewatch.api.mqtt import MqttPublisher, slug
from scenewatch.memory.store import TimelineStore
from scenewatch.types import Event
from tests.api.serving_helpers import free_port, make_config

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="mosquitto not installed (scripts/system-deps.sh)")


class Broker:
    """A mosquitto process with on-disk persistence, killable and restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {workdir}/\nautosave_interval 1\n"
                             # as root, mosquitto drops to the ``mosquitto`` user, which cannot save in workdir
                             + ("user root\n" if os.geteuid() == 0 else ""))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import socket

        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    """A persistent-session QoS 1 subscriber that records every message."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="scenewatch-test-sub",
                                  clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe([("scenewatch/#", 1), ("homeassistant/#", 1)])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def topic(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.topic("scenewatch/events")]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.kill()


def _add_event(db: Path, source_id: str, start: float, rule: str) -> int:
    with TimelineStore(db) as store:
        return store.add_event(Event(rule=rule, source_id=source_id, start=start, end=start + 1.0,
                                     title=f"{rule}: test", summary="stored by the test"))


def test_discovery_and_events_survive_broker_restart(broker: Broker, scene_db: Path) -> None:
    config = make_config(scene_db, serve={"mqtt": {"enabled": True, "port": broker.port, "poll_interval": 0.2}})
    with TimelineStore(scene_db) as store:
        source_id = store.list_sources()[0]["id"]
        real = [e.id for e in store.events()]
    assert len(real) >= 2  # the scene's doorbell and package label, fired by the real trigger engine
    sub = Subscriber(broker.port)
    wait_for(lambda: sub.client.is_connected(), 10, "subscriber")
    time.sleep(1.5)  # let mosquitto autosave the persistent subscription
    publisher = MqttPublisher(config).start()
    try:
        node = f"scenewatch_{slug(source_id)}"
        wait_for(lambda: len({e["event_id"] for e in sub.events() if e["type"] == "end"}) >= len(real), 30,
                 "the pipeline's events (new and end)")
        event_cfg = json.loads(sub.topic(f"homeassistant/event/{node}/events/config")[-1])
        assert event_cfg["device"]["identifiers"] == [node]
        assert event_cfg["availability_topic"] == "scenewatch/available"
        assert event_cfg["state_topic"] == f"scenewatch/{slug(source_id)}/event"
        for concept in ("package", "doorbell"):
            sensor = json.loads(sub.topic(f"homeassistant/binary_sensor/{node}/{concept}/config")[-1])
            assert sensor["state_topic"] == f"scenewatch/{slug(source_id)}/{concept}"
        image = json.loads(sub.topic(f"homeassistant/image/{node}/snapshot/config")[-1])
        assert image["content_type"] == "image/jpeg"
        assert sub.topic("scenewatch/available")[-1] == b"online"
        wait_for(lambda: bool(sub.topic(f"scenewatch/{slug(source_id)}/snapshot")), 10, "snapshot")
        assert sub.topic(f"scenewatch/{slug(source_id)}/snapshot")[-1][:2] == b"\xff\xd8"
        doorbell = next(e for e in sub.events() if "doorbell" in e["rule"])
        assert abs(doorbell["start"] - 12.0) < 0.6 and doorbell["source_id"] == source_id
        node_topic = f"scenewatch/{slug(source_id)}"
        wait_for(lambda: bool(sub.topic(f"{node_topic}/speech")) and bool(sub.topic(f"{node_topic}/sound")), 10,
                 "speech and sound state")
        assert sub.topic(f"{node_topic}/speech")[-1].decode().startswith("And so my fellow Americans")
        assert sub.topic(f"{node_topic}/sound")[-1].decode() in {"Ding-dong", "Doorbell", "Ding", "Bell", "Chime"}
        assert sub.topic(f"{node_topic}/package")  # presence state exists for each watched concept
        ha = [json.loads(p) for p in sub.topic(f"scenewatch/{slug(source_id)}/event")]
        assert {m["event_type"] for m in ha} == {"new", "end"}

        broker.kill()
        wait_for(lambda: not publisher.connected, 10, "the publisher to notice the broker is gone")
        down = [_add_event(scene_db, source_id, 40.0 + i, "while-down") for i in range(3)]
        time.sleep(1.0)
        broker.start()
        after = [_add_event(scene_db, source_id, 50.0 + i, "after-restart") for i in range(2)]
        expected = [*real, *down, *after]
        wait_for(lambda: {e["event_id"] for e in sub.events() if e["type"] == "new"} >= set(expected), 60,
                 "every event after the broker restart")
        time.sleep(1.5)  # a duplicate would arrive within this
        news = [e["event_id"] for e in sub.events() if e["type"] == "new"]
        assert sorted(news) == sorted(expected), "an event was lost or duplicated"
        assert news == sorted(news), "events arrived out of order"
    finally:
        publisher.stop()
    wait_for(lambda: sub.topic("scenewatch/available")[-1:] == [b"offline"], 10, "offline on stop")
    sub.stop()


def test_presence_counts_follow_the_analysed_time(broker: Broker, tmp_path: Path) -> None:
    """Two person tracks present at the analysed end → ``2``; once they are gone → ``0``."""
    from scenewatch.types import Observation, SourceInfo

    db = tmp_path / "presence.db"
    config = make_config(db, concepts=["person", "dog"],
                         serve={"mqtt": {"enabled": True, "port": broker.port, "poll_interval": 0.1}})
    with TimelineStore(db) as store:
        store.upsert_source(SourceInfo(id="yard", uri="rtsp://yard.local/s", kind="live"))
        people = [Observation(kind="object", source_id="yard", start=8.0, end=10.0, label="person", track_id=t,
                              box=(10.0, 10.0, 50.0, 90.0), confidence=0.9) for t in (1, 2)]
        store.commit_batch(people, progress=("yard", 10.0))
    sub = Subscriber(broker.port)
    wait_for(lambda: sub.client.is_connected(), 10, "subscriber")
    publisher = MqttPublisher(config).start()
    try:
        wait_for(lambda: sub.topic("scenewatch/yard/person")[-1:] == [b"2"], 10, "two people present")
        assert sub.topic("scenewatch/yard/dog")[-1:] == [b"0"]
        with TimelineStore(db) as store:  # the analysis moves on; nobody is seen after 10 s
            store.commit_batch([], progress=("yard", 20.0))
        wait_for(lambda: sub.topic("scenewatch/yard/person")[-1:] == [b"0"], 10, "people gone")
        sensor = json.loads(sub.topic("homeassistant/binary_sensor/scenewatch_yard/person/config")[-1])
        assert sensor["device_class"] == "occupancy" and sensor["device"]["identifiers"] == ["scenewatch_yard"]
    finally:
        publisher.stop()
        sub.stop()


def test_review_sends_update_once_each_after_new(broker: Broker, scene_db: Path) -> None:
    """Acknowledge, false positive and a review from the API → one ``update`` each, after ``new``;
    a review made while the broker is down arrives once after it is back; ``end`` still follows."""
    from fastapi.testclient import TestClient

    from scenewatch.api.app import create_app
    from tests.api.serving_helpers import PASSWORD

    config = make_config(scene_db, serve={"mqtt": {"enabled": True, "port": broker.port, "poll_interval": 0.2}})
    with TimelineStore(scene_db) as store:
        source_id = store.list_sources()[0]["id"]
    sub = Subscriber(broker.port)
    wait_for(lambda: sub.client.is_connected(), 10, "subscriber")
    time.sleep(1.5)  # let mosquitto autosave the persistent subscription (it is killed below)
    publisher = MqttPublisher(config).start()
    api = TestClient(create_app(config))
    try:
        assert api.post("/api/auth/login", json={"password": PASSWORD}).status_code == 200
        events = api.get("/api/events", params={"limit": 100}).json()["items"]
        doorbell = next(e for e in events if "doorbell" in e["rule"])
        other = next(e for e in events if e["id"] != doorbell["id"])
        with TimelineStore(scene_db) as store:
            third = store.add_event(Event(rule="review-test", source_id=source_id, start=25.0, end=26.0,
                                          title="review-test", summary="stored by the test"))
        wait_for(lambda: {third} <= {e["event_id"] for e in sub.events() if e["type"] == "new"}, 30,
                 "new for the test event")  # a fresh broker: earlier events may already be published

        def updates() -> list[dict[str, Any]]:
            return [e for e in sub.events() if e["type"] == "update"]

        assert api.post(f"/api/events/{doorbell['id']}/ack").status_code == 200
        assert api.post(f"/api/events/{other['id']}/false-positive").status_code == 200
        r = api.post(f"/api/reviews/events/{third}", json={"verdict": "wrong", "note": "test"})
        assert r.status_code == 201, r.text
        wait_for(lambda: len(updates()) >= 3, 20, "three updates")
        by_id = {u["event_id"]: u for u in updates()}
        assert by_id[doorbell["id"]]["state"] == "reviewed" and by_id[doorbell["id"]]["false_positive"] is False
        assert by_id[other["id"]]["false_positive"] is True
        assert by_id[third]["false_positive"] is True and by_id[third]["note"] == "test"
        assert abs(by_id[doorbell["id"]]["start"] - 12.0) < 0.6 and by_id[doorbell["id"]]["source_id"] == source_id
        ha = [json.loads(p) for p in sub.topic(f"scenewatch/{slug(source_id)}/event")]
        assert sum(m["event_type"] == "update" for m in ha) == 3

        broker.kill()
        wait_for(lambda: not publisher.connected, 10, "the publisher to notice the broker is gone")
        assert api.patch(f"/api/events/{doorbell['id']}", json={"note": "seen while down"}).status_code == 200
        time.sleep(0.6)
        broker.start()
        wait_for(lambda: any(u.get("note") == "seen while down" for u in updates()), 30, "the update after restart")
        wait_for(lambda: any(e["type"] == "end" and e["event_id"] == third for e in sub.events()), 30, "end")
        time.sleep(1.5)  # a duplicate would arrive within this
        seen = [(u["event_id"], u["note"], u["false_positive"]) for u in updates()]
        assert len(seen) == len(set(seen)) == 4, seen  # one per review, none lost or repeated
        order = [(e["event_id"], e["type"]) for e in sub.events()]
        assert order.index((third, "new")) < order.index((third, "update"))
    finally:
        api.close()
        publisher.stop()
        sub.stop()
