"""MQTT publisher and Home Assistant discovery for ``scenewatch serve``.

Topics (``<prefix>`` defaults to ``scenewatch``):

- ``<prefix>/available``: ``online`` / ``offline`` (retained; ``offline`` is also the last will).
- ``<prefix>/events``: one JSON message per event change, ``{"type": "new"|"update"|"end", "event_id",
  "source_id", "label", "start", "end", "box", "summary", "snapshot_url", "state", "false_positive", …}``;
  ``end`` follows once the source has been analysed past the event's end; ``update`` follows each review
  (acknowledged, marked false positive, corrected), always after ``new``.
- ``<prefix>/<source>/event``: the same messages with ``event_type`` for Home Assistant's ``event`` entity.
- ``<prefix>/<source>/<concept>``: how many tracks of a watched concept are present now (retained).
- ``<prefix>/<source>/snapshot``: JPEG of the latest event's frame with boxes (retained).
- ``<prefix>/<source>/speech`` and ``…/sound``: the latest speech text and sound label (retained).
- ``<discovery>/{event,binary_sensor,image}/<node>/<object>/config``: device-based discovery with availability.

Delivery is QoS 1 through a persistent outbox: each message has a key (``event:12:new``) that is
marked in the store only when the broker acknowledges it, so a broker restart loses nothing and a
message paho is still retrying is never queued a second time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from scenewatch.config import Config
from scenewatch.runtime import queries, service
from scenewatch.runtime.server import SourceManager

log = logging.getLogger(__name__)

END_GRACE = 2.0  # media seconds past an event's end before ``end`` is sent
PRESENCE_WINDOW = 2.0  # media seconds back from the analysed end that count as "present now"


def slug(text: str) -> str:
    """A topic- and entity-id-safe form of a name."""
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_") or "x"


def _names(obs: dict[str, Any]) -> set[str]:
    """The label and concepts an object row answers to."""
    payload = obs.get("payload") or {}
    names = [obs.get("label") or "", payload.get("concept") or "", *(payload.get("concepts") or [])]
    return {str(n).lower() for n in names if n}


class MqttPublisher:
    """Publishes events, presence counts and snapshots, and Home Assistant discovery configs.

    Args:
        config: the config (``serve.mqtt`` for the broker and prefixes, ``concepts`` for presence sensors).
        manager: the source workers (for which sources exist); ``None`` uses the stored sources.
    """

    def __init__(self, config: Config, manager: SourceManager | None = None) -> None:
        self.config = config
        self.settings = config.serve.mqtt
        self.manager = manager
        self.prefix = self.settings.prefix.rstrip("/")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._pending: dict[str, Any] = {}  # outbox key -> paho MessageInfo not yet acknowledged
        self._retained: dict[str, bytes] = {}  # topic -> last retained payload sent on this connection
        self._discovered: set[str] = set()
        self._connected = threading.Event()
        self._client = self._make_client()

    # --------------------------------------------------------------- lifecycle
    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"scenewatch-{slug(self.prefix)}",
                             clean_session=True)
        if self.settings.username:
            pw = self.settings.password.get_secret_value() if self.settings.password else None
            client.username_pw_set(self.settings.username, pw)
        client.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.max_queued_messages_set(10_000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT connect refused: %s", reason)
            return
        self._retained.clear()
        self._discovered.clear()
        client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, *args: Any) -> None:
        self._connected.clear()

    def start(self) -> MqttPublisher:
        """Connect (retrying in the background) and start publishing."""
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self._client.loop_start()
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline``, flush what is in flight and disconnect."""
        self._stop.set()
        self._thread.join(timeout)
        if self._connected.is_set():
            self._client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True).wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    # ------------------------------------------------------------------- loop
    def _run(self) -> None:
        with service.open_store(self.config) as store:
            while not self._stop.is_set():
                try:
                    self._settle(store)
                    if self._connected.is_set():
                        self.publish_once(store)
                except Exception:  # the publisher never takes the server down
                    log.exception("MQTT publish pass failed")
                self._stop.wait(self.settings.poll_interval)
            self._settle(store)

    def _settle(self, store: queries.TimelineStore) -> None:
        """Mark acknowledged messages in the store."""
        for key, info in list(self._pending.items()):
            if info.is_published():
                queries.mqtt_mark_published(store, key)
                del self._pending[key]

    def _send(self, topic: str, payload: bytes | str, retain: bool = False) -> Any:
        data = payload.encode() if isinstance(payload, str) else payload
        if retain:
            if self._retained.get(topic) == data:
                return None
            self._retained[topic] = data
        return self._client.publish(topic, data, qos=self.settings.qos, retain=retain)

    def publish_once(self, store: queries.TimelineStore) -> None:
        """One pass: discovery for new sources, pending event messages, presence, speech/sound."""
        sources = store.list_sources()
        progress = {s["id"]: (float(s["processed_until"]), str(s["status"])) for s in sources}
        for s in sources:
            self._discover(s["id"])
        self._publish_events(store, progress)
        self._publish_updates(store)
        for s in sources:
            self._publish_state(store, s["id"], progress[s["id"]][0])

    def _publish_events(self, store: queries.TimelineStore, progress: dict[str, tuple[float, str]]) -> None:
        page = queries.mqtt_pending_events(store)
        keys = [f"event:{e['id']}:{kind}" for e in page for kind in ("new", "end")]
        todo = set(queries.mqtt_unpublished(store, keys))
        for e in page:
            analysed, status = progress.get(e["source_id"], (0.0, "new"))
            for kind in ("new", "end"):
                key = f"event:{e['id']}:{kind}"
                if key not in todo or key in self._pending:
                    continue
                if kind == "end" and (f"event:{e['id']}:new" in todo or
                                      (analysed < e["end"] + END_GRACE and status == "running")):
                    continue
                body = self._event_message(e, kind)
                self._pending[key] = self._send(f"{self.prefix}/events", json.dumps(body))
                self._send(f"{self.prefix}/{slug(e['source_id'])}/event", json.dumps({**body, "event_type": kind}))
                if kind == "new":
                    self._snapshot(store, e)

    def _publish_updates(self, store: queries.TimelineStore) -> None:
        """``update`` for each event whose review (acknowledged, false positive, note) changed; after its ``new``."""
        pending = [(key, e) for key, e in queries.mqtt_pending_updates(store) if key not in self._pending]
        new_keys = [f"event:{e['id']}:new" for _, e in pending]
        unsent = set(queries.mqtt_unpublished(store, new_keys))
        for key, e in pending:
            if f"event:{e['id']}:new" in unsent:
                continue  # ``new`` first: Home Assistant should never see an update for an unknown event
            body = self._event_message(e, "update")
            self._pending[key] = self._send(f"{self.prefix}/events", json.dumps(body))
            self._send(f"{self.prefix}/{slug(e['source_id'])}/event", json.dumps({**body, "event_type": "update"}))

    def _event_message(self, e: dict[str, Any], kind: str) -> dict[str, Any]:
        first = e["observation_ids"][0] if e["observation_ids"] else None
        base = self.settings.base_url.rstrip("/")
        return {"type": kind, "event_id": e["id"], "source_id": e["source_id"], "rule": e["rule"],
                "label": e["payload"].get("label") or e["title"], "title": e["title"], "summary": e["summary"],
                "severity": e["severity"], "start": e["start"], "end": e["end"], "wall_time": e["wall_time"],
                "box": e["payload"].get("box"), "observation_ids": e["observation_ids"],
                "snapshot_url": f"{base}/api/media/observations/{first}/thumbnail" if first else None,
                "state": e["state"], "false_positive": e["false_positive"], "note": e["note"]}

    def _snapshot(self, store: queries.TimelineStore, e: dict[str, Any]) -> None:
        from scenewatch.runtime import media

        try:
            row = queries.source_row(store, e["source_id"])
            if row["kind"] != "file":
                return
            obs = [queries.get_observation(store, i) for i in e["observation_ids"][:5]]
            boxes = [(o.box, o.text if o.kind == "text" else o.label, o.kind) for o in obs if o.box]
            image = media.frame_at(row["uri"], e["start"])
            self._send(f"{self.prefix}/{slug(e['source_id'])}/snapshot", media.jpeg(image, boxes, 640), retain=True)
        except Exception as exc:  # a snapshot is a nicety; the event message already went out
            log.info("no snapshot for event %s: %s", e["id"], exc)

    def _publish_state(self, store: queries.TimelineStore, source_id: str, analysed: float) -> None:
        node = slug(source_id)
        since = max(0.0, analysed - PRESENCE_WINDOW)
        flt = queries.ObservationFilter(source_id=source_id, kinds=("object",), since=since, until=analysed)
        present = queries.observations_page(store, flt, 1000)["items"]
        for concept in self._concepts():
            tracks = {o["track_id"] or o["id"] for o in present if _names(o) & {concept.lower()}}
            self._send(f"{self.prefix}/{node}/{slug(concept)}", str(len(tracks)), retain=True)
        for kind in ("speech", "sound"):  # what was last heard
            last = queries.latest_observation(store, source_id, kind)
            if last is not None:
                value = last["text"] if kind == "speech" else last["label"]
                self._send(f"{self.prefix}/{node}/{kind}", value, retain=True)

    def _concepts(self) -> list[str]:
        return list(dict.fromkeys(c.strip() for c in self.config.concepts if c.strip()))

    # -------------------------------------------------------------- discovery
    def discovery_configs(self, source_id: str) -> dict[str, dict[str, Any]]:
        """Home Assistant discovery topic → config for one source (a device with its entities)."""
        node = slug(source_id)
        uid = f"scenewatch_{node}"
        disc = self.settings.discovery_prefix.rstrip("/")
        device = {"identifiers": [uid], "name": f"scenewatch {source_id}", "manufacturer": "scenewatch",
                  "model": "video source"}
        common = {"device": device, "availability_topic": f"{self.prefix}/available",
                  "payload_available": "online", "payload_not_available": "offline"}
        out: dict[str, dict[str, Any]] = {
            f"{disc}/event/{uid}/events/config": {
                **common, "name": "Events", "unique_id": f"{uid}_events", "state_topic": f"{self.prefix}/{node}/event",
                "event_types": ["new", "update", "end"]},
            f"{disc}/image/{uid}/snapshot/config": {
                **common, "name": "Snapshot", "unique_id": f"{uid}_snapshot",
                "image_topic": f"{self.prefix}/{node}/snapshot", "content_type": "image/jpeg"},
        }
        for concept in self._concepts():
            c = slug(concept)
            out[f"{disc}/binary_sensor/{uid}/{c}/config"] = {
                **common, "name": f"{concept} present", "unique_id": f"{uid}_{c}", "device_class": "occupancy",
                "state_topic": f"{self.prefix}/{node}/{c}",
                "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"}
        return out

    def _discover(self, source_id: str) -> None:
        if source_id in self._discovered:
            return
        for topic, cfg in self.discovery_configs(source_id).items():
            self._send(topic, json.dumps(cfg), retain=True)
        self._discovered.add(source_id)
