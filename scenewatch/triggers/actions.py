"""Actions of fired rules, delivered through the store's outbox (:mod:`scenewatch.memory.outbox`).

Each (event, action, target) is one outbox row (unique, so an event is never queued twice).
:meth:`ActionDispatcher.deliver_due` tries every due row: log, webhook (HTTP POST of the event
JSON with an ``Idempotency-Key`` header), MQTT publish (paho-mqtt, QoS 1 by default) or a
command (argv without a shell, event JSON on stdin). A failure is recorded on the row
(``attempts``, ``last_error``) and retried with exponential backoff; rows for one target are
delivered in order, so a receiver that comes back gets every event once, oldest first. An
:class:`OutboxWorker` thread runs deliveries in the background; nothing here can stop the
pipeline. Actions come only from configured rules — there is no path from model output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import threading
import time
from dataclasses import asdict
from typing import Any

from scenewatch.memory.outbox import Outbox
from scenewatch.memory.store import TimelineStore, event_key
from scenewatch.reasoning.screen import redact_payload
from scenewatch.triggers.settings import ActionSettings, RuleSettings, TriggerSettings
from scenewatch.types import Event

log = logging.getLogger(__name__)



def event_payload(event: Event) -> dict[str, Any]:
    """The JSON body every action receives; scene text that reads as instructions is withheld."""
    d = asdict(event)
    d["observation_ids"] = list(event.observation_ids)
    d["event_id"] = d.pop("id")
    d["payload"] = dict(event.payload)
    d["key"] = event_key(event)
    return dict(redact_payload(d))


def idempotency_key(payload: dict[str, Any], action: ActionSettings) -> str:
    """The receiver's de-duplication key: the event's own key (rule, source, start) and the target.

    A resumed or repeated run that fires the same event sends the same key, whatever row id the
    event or its outbox row got.
    """
    import hashlib

    event = payload.get("key") or f"{payload.get('rule')}|{payload.get('source_id')}|{payload.get('start')}"
    return "scenewatch-" + hashlib.sha256(f"{event}|{action.type}|{_target(action)}".encode()).hexdigest()[:32]


def _target(a: ActionSettings) -> str:
    if a.type == "webhook":
        return a.url or ""
    if a.type == "mqtt":
        return f"mqtt://{a.host}:{a.port}/{a.topic or ''}"
    if a.type == "command":
        return json.dumps(a.command or [])
    return "log"


class DeliveryError(Exception):
    """One delivery attempt failed (recorded on the outbox row, then retried)."""


class ActionDispatcher:
    """Queues actions of fired events and delivers them with retries.

    Args:
        store: the timeline whose ``outbox`` table holds pending deliveries (``None``: log only).
        settings: retry timing.
    """

    def __init__(self, store: TimelineStore | None, settings: TriggerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or TriggerSettings()

    def enqueue(self, event: Event, rule: RuleSettings) -> int:
        """Queue every action of ``rule`` for a stored ``event``; returns rows added (duplicates ignored)."""
        if self.store is None or event.id is None:
            raise ValueError("enqueue needs a store and a stored event (with an id)")
        payload = event_payload(event)
        return Outbox(self.store).enqueue(event.id, [
            (action.type, _target(action), {"payload": payload, "action": action.model_dump()})
            for action in rule.actions])

    def run_unqueued(self, event: Event, rule: RuleSettings) -> None:
        """Without a store only log actions can run; others are reported as not deliverable."""
        for action in rule.actions:
            if action.type == "log":
                _deliver_log(event_payload(event))
            else:
                log.warning("rule %s: %s action needs a store (outbox) to be delivered", rule.name, action.type)

    def pending(self) -> int:
        """Rows not yet delivered (including those still waiting to retry)."""
        return 0 if self.store is None else Outbox(self.store).count_pending()

    def deliver_due(self, now: float | None = None) -> int:
        """Try every due row once (in order per target); returns how many were delivered."""
        if self.store is None:
            return 0
        now = time.time() if now is None else now
        outbox = Outbox(self.store)
        blocked: set[str] = set()
        delivered = 0
        for row in outbox.pending(include_gave_up=False):
            if row.target in blocked:
                continue
            if row.next_attempt > now:  # an older row still backing off keeps its place in line
                blocked.add(row.target)
                continue
            try:
                deliver(ActionSettings(**row.body["action"]), row.body["payload"], row.id)
            except Exception as exc:  # every failure is recorded, none propagates
                blocked.add(row.target)
                attempts = row.attempts + 1
                delay = min(self.settings.retry_max, self.settings.retry_base * 2 ** (attempts - 1))
                give_up = self.settings.max_attempts and attempts >= self.settings.max_attempts
                outbox.mark_failed(row.id, attempts, None if give_up else time.time() + delay,
                                   f"{type(exc).__name__}: {exc}")
                log.warning("action %s to %s failed (attempt %d): %s", row.action, row.target, attempts, exc)
                continue
            outbox.mark_delivered(row.id)
            delivered += 1
        return delivered


def deliver(action: ActionSettings, payload: dict[str, Any], delivery_id: int = 0) -> None:
    """Deliver one payload by one action; raises on failure."""
    payload = redact_payload(payload)  # rows queued before screening, or by other writers
    if action.type == "log":
        _deliver_log(payload)
    elif action.type == "webhook":
        _deliver_webhook(action, payload, delivery_id)
    elif action.type == "mqtt":
        _deliver_mqtt(action, payload)
    elif action.type == "command":
        _deliver_command(action, payload)
    else:  # pragma: no cover - settings validation forbids it
        raise DeliveryError(f"unknown action {action.type}")


def _deliver_log(payload: dict[str, Any]) -> None:
    log.warning("event %s [%s] %.1f-%.1f s: %s", payload.get("rule"), payload.get("severity"),
                payload.get("start", 0.0), payload.get("end", 0.0), payload.get("title"))


def _deliver_webhook(action: ActionSettings, payload: dict[str, Any], delivery_id: int) -> None:
    import httpx

    if not action.url:
        raise DeliveryError("webhook action has no url")
    headers = {"Idempotency-Key": idempotency_key(payload, action), **action.headers}
    try:
        r = httpx.post(action.url, json=payload, headers=headers, timeout=action.timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"HTTP {r.status_code}")


def _deliver_mqtt(action: ActionSettings, payload: dict[str, Any]) -> None:
    import paho.mqtt.client as mqtt

    if not action.topic:
        raise DeliveryError("mqtt action has no topic")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"scenewatch-{payload.get('event_id')}")
    try:
        client.connect(action.host, action.port, keepalive=10)
        client.loop_start()
        info = client.publish(action.topic, json.dumps(payload), qos=action.qos)
        info.wait_for_publish(timeout=action.timeout)
        if not info.is_published():
            raise DeliveryError("MQTT publish not acknowledged")
    except OSError as exc:
        raise DeliveryError(f"MQTT broker {action.host}:{action.port}: {exc}") from None
    finally:
        client.loop_stop()
        with contextlib.suppress(Exception):  # already gone
            client.disconnect()


def _deliver_command(action: ActionSettings, payload: dict[str, Any]) -> None:
    if not action.command:
        raise DeliveryError("command action has no argv")
    try:
        done = subprocess.run(action.command, input=json.dumps(payload), text=True, capture_output=True,
                              timeout=action.timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeliveryError(str(exc)) from None
    if done.returncode != 0:
        raise DeliveryError(f"exit {done.returncode}: {done.stderr.strip()[:200]}")


class OutboxWorker:
    """Delivers due outbox rows every ``poll_interval`` seconds on a background thread."""

    def __init__(self, dispatcher: ActionDispatcher) -> None:
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OutboxWorker:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scenewatch-outbox", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatcher.deliver_due()
            except Exception:  # keep delivering whatever happens
                log.exception("outbox delivery pass failed")
            self._stop.wait(self.dispatcher.settings.poll_interval)

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
