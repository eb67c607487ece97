"""The outbox table: actions of fired events waiting for delivery, next to the table's schema.

One row per (event, action, target) — unique, so an event is never queued twice. A row is
*pending* until delivered; a failed attempt records ``attempts``, ``last_error`` and when to
try again (``next_attempt``); a row that exhausted its attempts is parked at
:data:`GAVE_UP` and stays pending (visible, retryable) without being tried automatically.
Delivery itself (HTTP, MQTT, commands) lives in :mod:`scenewatch.triggers.actions`; this
module only reads and writes rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scenewatch.memory.store import TimelineStore

GAVE_UP = 1e18
"""``next_attempt`` of rows that exhausted their attempts."""

_COLUMNS = "id, event_id, action, target, body, attempts, next_attempt, delivered_at, last_error"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued delivery.

    Attributes:
        id: row id (part of the webhook ``Idempotency-Key``).
        event_id: the event delivered.
        action: ``log``, ``webhook``, ``mqtt`` or ``command``.
        target: where it goes (URL, ``mqtt://host:port/topic``, argv JSON, ``log``).
        body: ``{"payload": event JSON, "action": action settings}``.
        attempts: delivery attempts so far.
        next_attempt: Unix time of the next try (:data:`GAVE_UP`: none).
        delivered_at: Unix time of delivery, ``None`` while pending.
        last_error: why the last attempt failed.
    """

    id: int
    event_id: int
    action: str
    target: str
    body: dict[str, Any]
    attempts: int = 0
    next_attempt: float = 0.0
    delivered_at: float | None = None
    last_error: str | None = None

    @property
    def gave_up(self) -> bool:
        """Whether the row exhausted its attempts (it is not retried automatically)."""
        return self.delivered_at is None and self.next_attempt >= GAVE_UP


def _row(r: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(int(r[0]), int(r[1]), str(r[2]), str(r[3]), json.loads(r[4]), int(r[5]), float(r[6]),
                     r[7], r[8])


class Outbox:
    """The outbox rows of one store.

    Args:
        store: the timeline whose ``outbox`` table holds the rows.
    """

    def __init__(self, store: TimelineStore) -> None:
        self.store = store

    def enqueue(self, event_id: int, deliveries: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
        """Queue ``(action, target, body)`` deliveries of one event atomically; returns rows added.

        A delivery already queued for the same (event, action, target) is ignored.
        """
        added = 0
        with self.store.transaction() as c:
            for action, target, body in deliveries:
                cur = c.execute(
                    "INSERT OR IGNORE INTO outbox(event_id, action, target, body, next_attempt) VALUES (?,?,?,?,?)",
                    (event_id, action, target, json.dumps(body), 0.0),
                )
                added += cur.rowcount
        return added

    def count_pending(self) -> int:
        """Rows not yet delivered (including those waiting to retry and those given up)."""
        return int(self.store.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")[0][0])

    def pending(self, include_gave_up: bool = True) -> list[OutboxRow]:
        """Undelivered rows, oldest first (delivery order)."""
        sql = f"SELECT {_COLUMNS} FROM outbox WHERE delivered_at IS NULL"
        if not include_gave_up:
            sql += " AND next_attempt < ?"
        return [_row(r) for r in self.store.execute(sql + " ORDER BY id", () if include_gave_up else (GAVE_UP,))]

    def rows(self, limit: int = 100) -> list[OutboxRow]:
        """The newest ``limit`` rows, delivered or not, newest first (for listings)."""
        return [_row(r) for r in self.store.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?",
                                                    (int(limit),))]

    def mark_delivered(self, row_id: int, at: float | None = None) -> None:
        """Record a successful delivery."""
        with self.store.transaction() as c:
            c.execute("UPDATE outbox SET attempts=attempts+1, delivered_at=?, last_error=NULL WHERE id=?",
                      (time.time() if at is None else at, row_id))

    def mark_failed(self, row_id: int, attempts: int, retry_at: float | None, error: str) -> None:
        """Record a failed attempt; ``retry_at=None`` gives the row up."""
        with self.store.transaction() as c:
            c.execute("UPDATE outbox SET attempts=?, next_attempt=?, last_error=? WHERE id=?",
                      (attempts, GAVE_UP if retry_at is None else retry_at, error[:500], row_id))

    def retry_given_up(self) -> int:
        """Make rows that exhausted their attempts due again (after fixing a receiver); returns how many."""
        with self.store.transaction() as c:
            return int(c.execute("UPDATE outbox SET next_attempt=0 WHERE delivered_at IS NULL AND next_attempt>=?",
                                 (GAVE_UP,)).rowcount)
