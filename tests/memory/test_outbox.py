"""The outbox rows next to their table: queue once, order, failure bookkeeping, give up and retry."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from scenewatch.memory.backends import open_store
from scenewatch.memory.outbox import GAVE_UP, Outbox
from scenewatch.memory.store import TimelineStore
from scenewatch.triggers.actions import ActionDispatcher
from scenewatch.triggers.settings import ActionSettings, RuleSettings, TriggerSettings
from scenewatch.types import Event, SourceInfo


def _event(store: TimelineStore, start: float) -> Event:
    ev = Event("bell", "cam", start, start + 1.0, title="Doorbell")
    return replace(ev, id=store.add_event(ev))


def test_rows_queue_once_in_order_and_record_failures(store_target: str | Path) -> None:
    store = open_store(store_target)
    store.upsert_source(SourceInfo("cam", "cam.mp4", "file"))
    outbox = Outbox(store)
    a, b = _event(store, 1.0), _event(store, 5.0)
    assert a.id is not None and b.id is not None
    body = {"payload": {"event_id": a.id}, "action": {"type": "log"}}
    assert outbox.enqueue(a.id, [("log", "log", body), ("webhook", "http://x/", body)]) == 2
    assert outbox.enqueue(a.id, [("log", "log", body)]) == 0  # (event, action, target) is unique
    assert outbox.enqueue(b.id, [("log", "log", {"payload": {"event_id": b.id}})]) == 1
    rows = outbox.pending()
    assert [(r.event_id, r.action) for r in rows] == [(a.id, "log"), (a.id, "webhook"), (b.id, "log")]
    assert rows[0].body == body and outbox.count_pending() == 3
    outbox.mark_failed(rows[1].id, 1, 123.0, "ConnectError: refused")
    outbox.mark_failed(rows[2].id, 5, None, "exit 3")  # exhausted: parked, still pending
    outbox.mark_delivered(rows[0].id, at=50.0)
    (webhook,) = [r for r in outbox.pending() if r.action == "webhook"]
    assert (webhook.attempts, webhook.next_attempt, webhook.last_error) == (1, 123.0, "ConnectError: refused")
    assert [r.id for r in outbox.pending(include_gave_up=False)] == [rows[1].id]
    parked = [r for r in outbox.pending() if r.gave_up]
    assert [r.id for r in parked] == [rows[2].id] and parked[0].next_attempt == GAVE_UP
    assert outbox.count_pending() == 2 and outbox.rows(limit=1)[0].id == rows[2].id
    assert outbox.retry_given_up() == 1 and not any(r.gave_up for r in outbox.pending())
    delivered = [r for r in outbox.rows() if r.delivered_at is not None]
    assert [(r.id, r.delivered_at, r.attempts) for r in delivered] == [(rows[0].id, 50.0, 1)]


def test_dispatcher_delivers_through_the_outbox(store_target: str | Path, tmp_path: Path) -> None:
    store = open_store(store_target)
    store.upsert_source(SourceInfo("cam", "cam.mp4", "file"))
    out = tmp_path / "got.json"
    ok = ActionSettings(type="command", command=[sys.executable, "-c",
                                                 f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read())"])
    bad = ActionSettings(type="command", command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    dispatcher = ActionDispatcher(store, TriggerSettings(max_attempts=2, retry_base=1.0))
    ev = _event(store, 2.0)
    assert dispatcher.enqueue(ev, RuleSettings(name="bell", kind="sound", label="Doorbell", actions=[ok, bad])) == 2
    assert dispatcher.pending() == 2
    assert dispatcher.deliver_due() == 1 and f'"event_id": {ev.id}' in out.read_text()
    assert dispatcher.deliver_due() == 0  # the failing one waits a second before its retry
    (waiting,) = Outbox(store).pending(include_gave_up=False)
    assert waiting.attempts == 1 and waiting.next_attempt > time.time()
    assert dispatcher.deliver_due(now=time.time() + 3600) == 0  # retried, and given up at max_attempts
    (left,) = Outbox(store).pending()
    assert left.gave_up and left.attempts == 2 and "exit 3" in (left.last_error or "")
    assert dispatcher.deliver_due() == 0 and dispatcher.pending() == 1
