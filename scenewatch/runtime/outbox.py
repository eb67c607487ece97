"""Service functions for pending actions: list the outbox, deliver it now (``scenewatch outbox``).

Failed webhook/MQTT/command deliveries stay in the store's outbox; a later ``watch`` retries
them with backoff, and these functions let a user see and flush them without running one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from scenewatch.config import Config
from scenewatch.memory.backends import open_store
from scenewatch.memory.outbox import GAVE_UP, Outbox, OutboxRow
from scenewatch.triggers.actions import ActionDispatcher


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What one flush did: rows delivered, rows still pending (failed again or given up)."""

    delivered: int
    pending: int
    retried_given_up: int = 0


def _status(row: OutboxRow, now: float) -> str:
    if row.delivered_at is not None:
        return "delivered"
    if row.gave_up:
        return "gave up"
    if row.attempts == 0:
        return "pending"
    return "retrying" if row.next_attempt > now else "due"


def row_dict(row: OutboxRow, now: float | None = None) -> dict[str, Any]:
    """One outbox row as plain JSON (no body: payloads are delivered, not listed)."""
    now = time.time() if now is None else now
    return {"id": row.id, "event_id": row.event_id, "action": row.action, "target": row.target,
            "status": _status(row, now), "attempts": row.attempts, "last_error": row.last_error,
            "next_attempt": None if row.gave_up or row.delivered_at is not None else row.next_attempt,
            "delivered_at": row.delivered_at, "rule": row.body.get("payload", {}).get("rule")}


def list_outbox(config: Config, include_delivered: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Pending deliveries oldest first (all rows, newest first, with ``include_delivered``)."""
    with open_store(config.store.target, readonly=True) as store:
        outbox = Outbox(store)
        rows = outbox.rows(limit) if include_delivered else outbox.pending()[:limit]
        now = time.time()
        return [row_dict(r, now) for r in rows]


def flush_outbox(config: Config, retry_given_up: bool = False) -> FlushResult:
    """Try every pending delivery once now, ignoring backoff (in order per target).

    Args:
        config: the configuration (store path, retry settings).
        retry_given_up: also retry rows that exhausted their attempts.
    """
    with open_store(config.store.target) as store:
        outbox = Outbox(store)
        revived = outbox.retry_given_up() if retry_given_up else 0
        delivered = ActionDispatcher(store, config.triggers).deliver_due(now=GAVE_UP / 2)
        return FlushResult(delivered, outbox.count_pending(), revived)
