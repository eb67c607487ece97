"""Queries the serving surfaces need beyond :mod:`scenewatch.runtime.service`.

Observation and event pages with opaque cursors, event review state, API tokens and the
admin password (stored hashed), sources added at run time, and the bookkeeping of the MQTT
publisher. Every function takes an open :class:`~scenewatch.memory.store.TimelineStore`
(the API holds one read-write connection) and returns JSON-ready dicts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from scenewatch.config import Config
from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore, fts_query
from scenewatch.types import Event, Observation

# TimelineStore is imported from here by the API (surfaces may not import memory).

TOKEN_PREFIX = "sw_"
REVIEW_STATES = ("new", "reviewed")


class NotFound(ScenewatchError):
    """The id does not name a stored row."""


class BadRequest(ScenewatchError):
    """The request is well-formed but cannot be answered (bad cursor, reversed range…)."""


def payload_json(obs: Observation) -> dict[str, Any]:
    """A row's payload as plain JSON (typed payload models or plain mappings)."""
    p: Any = obs.payload
    if hasattr(p, "to_json_dict"):
        return dict(p.to_json_dict())
    return dict(p or {})


def observation_json(obs: Observation) -> dict[str, Any]:
    """JSON form of one observation."""
    return {"id": obs.id, "source_id": obs.source_id, "kind": obs.kind, "start": obs.start, "end": obs.end,
            "label": obs.label, "text": obs.text, "confidence": obs.confidence,
            "box": list(obs.box) if obs.box else None, "track_id": obs.track_id,
            "wall_start": obs.wall_start, "payload": payload_json(obs)}


# --------------------------------------------------------------------- cursors
def encode_cursor(*values: float | int) -> str:
    """An opaque cursor for the row after which the next page starts."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[float]:
    """Values of a cursor made by :func:`encode_cursor`.

    Raises:
        BadRequest: the cursor was not made here.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError
        return [float(v) for v in values]
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError):
        raise BadRequest(f"invalid cursor {cursor[:40]!r}: pass back the next_cursor of a previous page") from None


@dataclass(frozen=True, slots=True)
class ObservationFilter:
    """Which observations a page holds (``since``/``until`` are media seconds of the span)."""

    source_id: str | None = None
    kinds: tuple[str, ...] = ()
    label: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None
    min_confidence: float = 0.0


_OBS_COLS = 'o.id, o.source_id, o.kind, o.start, o."end", o.wall_start, o.label, o.text, o.confidence, o.box, ' \
            "o.track_id, o.payload"


def observations_page(store: TimelineStore, flt: ObservationFilter, limit: int,
                      cursor: str | None = None) -> dict[str, Any]:
    """One page of observations in (start, id) order, and the cursor of the next page."""
    from scenewatch.memory.store import _row_to_observation

    if flt.since is not None and flt.until is not None and flt.until < flt.since:
        raise BadRequest(f"until ({flt.until}) is before since ({flt.since})")
    where, params = ["o.confidence >= ?"], [flt.min_confidence]
    if flt.source_id:
        where.append("o.source_id = ?")
        params.append(flt.source_id)  # type: ignore[arg-type]
    if flt.kinds:
        where.append(f"o.kind IN ({','.join('?' * len(flt.kinds))})")
        params.extend(flt.kinds)  # type: ignore[arg-type]
    if flt.label:
        where.append("lower(o.label) = lower(?)")
        params.append(flt.label)  # type: ignore[arg-type]
    if flt.since is not None:
        where.append('o."end" >= ?')
        params.append(flt.since)
    if flt.until is not None:
        where.append("o.start <= ?")
        params.append(flt.until)
    if flt.text:
        match = fts_query(flt.text)
        if not match:
            return {"items": [], "next_cursor": None}
        where.append("o.id IN (SELECT rowid FROM observations_fts WHERE observations_fts MATCH ?)")
        params.append(match)  # type: ignore[arg-type]
    if cursor:
        start, oid = decode_cursor(cursor, 2)
        where.append("(o.start > ? OR (o.start = ? AND o.id > ?))")
        params.extend([start, start, oid])
    sql = f"SELECT {_OBS_COLS} FROM observations o WHERE {' AND '.join(where)} ORDER BY o.start, o.id LIMIT ?"
    rows = [_row_to_observation(r) for r in store.execute(sql, [*params, limit + 1])]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1].start, rows[-1].id or 0) if more and rows else None
    return {"items": [observation_json(o) for o in rows], "next_cursor": nxt}


def latest_observation(store: TimelineStore, source_id: str, kind: str) -> dict[str, Any] | None:
    """The most recent observation of ``kind`` on a source (by start time), or ``None``."""
    from scenewatch.memory.store import _row_to_observation

    rows = store.execute(f"SELECT {_OBS_COLS} FROM observations o WHERE o.source_id = ? AND o.kind = ? "
                         "ORDER BY o.start DESC, o.confidence DESC, o.id DESC LIMIT 1", (source_id, kind))
    return observation_json(_row_to_observation(rows[0])) if rows else None


def get_observation(store: TimelineStore, observation_id: int) -> Observation:
    """One observation, or :class:`NotFound`."""
    obs = store.get_observation(observation_id)
    if obs is None:
        raise NotFound(f"no observation with id {observation_id}")
    return obs


# ---------------------------------------------------------------------- events
_EVENT_SQL = ('SELECT e.id, e.rule, e.source_id, e.start, e."end", e.wall_time, e.observation_ids, e.title, '
              "e.summary, e.severity, e.payload, e.created_at, COALESCE(r.state, 'new'), "
              "COALESCE(r.false_positive, 0), COALESCE(r.note, '') FROM events e "
              "LEFT JOIN event_reviews r ON r.event_id = e.id")


def _event_row(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": r[0], "rule": r[1], "source_id": r[2], "start": r[3], "end": r[4], "wall_time": r[5],
            "observation_ids": json.loads(r[6]), "title": r[7], "summary": r[8], "severity": r[9],
            "payload": json.loads(r[10]), "created_at": r[11], "state": r[12], "false_positive": bool(r[13]),
            "note": r[14]}


def events_page(store: TimelineStore, *, source_id: str | None = None, state: str | None = None,
                since: float | None = None, until: float | None = None, include_false_positives: bool = True,
                limit: int = 50, cursor: str | None = None, after_id: int | None = None) -> dict[str, Any]:
    """Events newest first (by id), filtered; ``after_id`` gives events newer than an id, oldest first."""
    if since is not None and until is not None and until < since:
        raise BadRequest(f"until ({until}) is before since ({since})")
    where: list[str] = ["1=1"]
    params: list[Any] = []
    for cond, value in (("e.source_id = ?", source_id), ("COALESCE(r.state, 'new') = ?", state),
                        ('e."end" >= ?', since), ("e.start <= ?", until)):
        if value is not None:
            where.append(cond)
            params.append(value)
    if not include_false_positives:
        where.append("COALESCE(r.false_positive, 0) = 0")
    order = "DESC"
    if after_id is not None:
        where.append("e.id > ?")
        params.append(after_id)
        order = "ASC"
    elif cursor:
        (last,) = decode_cursor(cursor, 1)
        where.append("e.id < ?")
        params.append(int(last))
    rows = store.execute(f"{_EVENT_SQL} WHERE {' AND '.join(where)} ORDER BY e.id {order} LIMIT ?",
                         [*params, limit + 1])
    more = len(rows) > limit
    items = [_event_row(r) for r in rows[:limit]]
    nxt = encode_cursor(items[-1]["id"]) if more and items and after_id is None else None
    return {"items": items, "next_cursor": nxt}


def get_event(store: TimelineStore, event_id: int) -> dict[str, Any]:
    """One event with its review state, or :class:`NotFound`."""
    rows = store.execute(f"{_EVENT_SQL} WHERE e.id = ?", (event_id,))
    if not rows:
        raise NotFound(f"no event with id {event_id}")
    return _event_row(rows[0])


def review_event(store: TimelineStore, event_id: int, *, state: str | None = None,
                 false_positive: bool | None = None, note: str | None = None) -> dict[str, Any]:
    """Set an event's review state (``new``/``reviewed``), false-positive flag or note."""
    current = get_event(store, event_id)
    if state is not None and state not in REVIEW_STATES:
        raise BadRequest(f"state must be one of {', '.join(REVIEW_STATES)} (got {state!r})")
    new_state = state or current["state"]
    fp = current["false_positive"] if false_positive is None else false_positive
    if false_positive:  # marking a false positive is a review
        new_state = "reviewed" if state is None else new_state
    text = current["note"] if note is None else note[:2000]
    with store.transaction() as c:
        c.execute("INSERT INTO event_reviews(event_id, state, false_positive, note, updated_at) VALUES (?,?,?,?,?) "
                  "ON CONFLICT(event_id) DO UPDATE SET state=excluded.state, false_positive=excluded.false_positive,"
                  " note=excluded.note, updated_at=excluded.updated_at",
                  (event_id, new_state, int(fp), text, time.time()))
    return get_event(store, event_id)


def latest_ids(store: TimelineStore) -> tuple[int, int]:
    """``(max observation id, max event id)`` (0 when empty): where a live stream starts."""
    obs = store.execute("SELECT COALESCE(MAX(id), 0) FROM observations")[0][0]
    ev = store.execute("SELECT COALESCE(MAX(id), 0) FROM events")[0][0]
    return int(obs), int(ev)


def observations_after(store: TimelineStore, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Observations inserted after ``after_id``, oldest first."""
    from scenewatch.memory.store import _row_to_observation

    rows = store.execute(f"SELECT {_OBS_COLS} FROM observations o WHERE o.id > ? ORDER BY o.id LIMIT ?",
                         (after_id, limit))
    return [observation_json(_row_to_observation(r)) for r in rows]


def event_json(event: Event) -> dict[str, Any]:
    """JSON form of an :class:`Event` (without review state)."""
    return {"id": event.id, "rule": event.rule, "source_id": event.source_id, "start": event.start,
            "end": event.end, "title": event.title, "summary": event.summary, "severity": event.severity,
            "observation_ids": list(event.observation_ids), "payload": dict(event.payload)}


# ------------------------------------------------------------ tokens, password
def _token_hash(token: str) -> str:
    # Tokens are 256-bit random: a plain SHA-256 is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: TimelineStore, name: str) -> dict[str, Any]:
    """A new API token; the plain token is in the result once and only its hash is stored."""
    name = name.strip()[:100]
    if not name:
        raise BadRequest("a token needs a name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as c:
        cur = c.execute("INSERT INTO api_tokens(name, token_hash, prefix, created_at) VALUES (?,?,?,?)",
                        (name, _token_hash(token), token[:10], time.time()))
    return {"id": int(cur.lastrowid or 0), "name": name, "token": token, "prefix": token[:10]}


def list_tokens(store: TimelineStore) -> list[dict[str, Any]]:
    """Tokens without their secrets."""
    rows = store.execute("SELECT id, name, prefix, created_at, last_used, revoked_at FROM api_tokens ORDER BY id")
    return [{"id": r[0], "name": r[1], "prefix": r[2], "created_at": r[3], "last_used": r[4],
             "revoked": r[5] is not None} for r in rows]


def revoke_token(store: TimelineStore, token_id: int) -> dict[str, Any]:
    """Revoke a token by id (idempotent)."""
    with store.transaction() as c:
        cur = c.execute("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                        (time.time(), token_id))
    if cur.rowcount == 0:
        raise NotFound(f"no token with id {token_id}")
    return next(t for t in list_tokens(store) if t["id"] == token_id)


def verify_token(store: TimelineStore, token: str) -> int | None:
    """The id of the live token ``token`` is, else ``None`` (hash compared in constant time)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _token_hash(token)
    found = None
    for tid, stored in store.execute("SELECT id, token_hash FROM api_tokens WHERE revoked_at IS NULL"):
        if hmac.compare_digest(stored, digest):
            found = int(tid)
    if found is not None:
        with store.transaction() as c:
            c.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (time.time(), found))
    return found


def _password_hash(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def ensure_admin_password(store: TimelineStore, configured: str | None) -> str | None:
    """Make sure an admin password exists; returns a newly generated one (to print once), else ``None``.

    A configured password replaces the stored hash; without one, the first start generates one.
    """
    if configured:
        set_admin_password(store, configured)
        return None
    if store.execute("SELECT 1 FROM serve_secrets WHERE key = 'admin_password'"):
        return None
    generated = secrets.token_urlsafe(12)
    set_admin_password(store, generated)
    return generated


def set_admin_password(store: TimelineStore, password: str) -> None:
    """Store the admin password's scrypt hash."""
    with store.transaction() as c:
        c.execute("INSERT INTO serve_secrets(key, value) VALUES ('admin_password', ?) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  (_password_hash(password, secrets.token_bytes(16)),))


def verify_admin_password(store: TimelineStore, password: str) -> bool:
    """Whether ``password`` is the admin password (constant-time comparison of scrypt hashes)."""
    rows = store.execute("SELECT value FROM serve_secrets WHERE key = 'admin_password'")
    if not rows or len(password) > 1024:
        return False
    _, salt_hex, _ = str(rows[0][0]).split("$")
    return hmac.compare_digest(_password_hash(password, bytes.fromhex(salt_hex)), str(rows[0][0]))


# ------------------------------------------------------------- served sources
def served_sources(store: TimelineStore) -> list[str]:
    """URIs added to the server at run time, in the order they were added."""
    return [str(r[0]) for r in store.execute("SELECT uri FROM served_sources ORDER BY added_at")]


def remember_source(store: TimelineStore, uri: str, keep: bool = True) -> None:
    """Add (``keep``) or forget a run-time source so a restart watches it again (or not)."""
    with store.transaction() as c:
        if keep:
            c.execute("INSERT OR IGNORE INTO served_sources(uri, added_at) VALUES (?, ?)", (uri, time.time()))
        else:
            c.execute("DELETE FROM served_sources WHERE uri = ?", (uri,))


def delete_source_data(store: TimelineStore, source_id: str) -> int:
    """Delete a source with its observations and events; returns the observations removed."""
    with store.transaction() as c:
        n = c.execute("SELECT COUNT(*) FROM observations WHERE source_id = ?", (source_id,)).fetchone()[0]
        c.execute("DELETE FROM events WHERE source_id = ?", (source_id,))
        c.execute("DELETE FROM sources WHERE id = ?", (source_id,))
    return int(n)


def source_row(store: TimelineStore, source_id: str) -> dict[str, Any]:
    """The stored source listing row, or :class:`NotFound`."""
    for s in store.list_sources():
        if s["id"] == source_id:
            return s
    raise NotFound(f"no source with id {source_id!r}")


def gap_count(store: TimelineStore, source_id: str) -> int:
    """How many stream gaps (reconnects) a source recorded."""
    return int(store.execute("SELECT COUNT(*) FROM observations WHERE source_id = ? AND kind = 'gap'",
                             (source_id,))[0][0])


# ------------------------------------------------------------------ MQTT marks
def mqtt_unpublished(store: TimelineStore, keys: list[str]) -> list[str]:
    """Those of ``keys`` the broker has not acknowledged yet."""
    done = {str(r[0]) for r in store.execute(
        f"SELECT key FROM mqtt_published WHERE key IN ({','.join('?' * len(keys))})", keys)} if keys else set()
    return [k for k in keys if k not in done]


def mqtt_pending_events(store: TimelineStore, limit: int = 500) -> list[dict[str, Any]]:
    """Events, oldest first, whose ``end`` message the broker has not acknowledged yet."""
    rows = store.execute(f"{_EVENT_SQL} WHERE NOT EXISTS (SELECT 1 FROM mqtt_published p "
                         "WHERE p.key = 'event:' || e.id || ':end') ORDER BY e.id LIMIT ?", (limit,))
    return [_event_row(r) for r in rows]


_UPDATE_KEY = "'event:' || e.id || ':update:' || CAST(r.updated_at * 1000 AS INTEGER)"


def mqtt_pending_updates(store: TimelineStore, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
    """``(outbox key, event)`` for reviewed events whose latest review the broker has not acknowledged.

    The key names the review's revision (its time in ms), so a later review is a new message and an
    older one that was never sent is superseded rather than queued.
    """
    columns = _EVENT_SQL.removeprefix("SELECT ").replace("LEFT JOIN", "JOIN")
    rows = store.execute(f"SELECT {_UPDATE_KEY}, {columns} WHERE NOT EXISTS (SELECT 1 FROM mqtt_published p "
                         f"WHERE p.key = {_UPDATE_KEY}) ORDER BY r.updated_at, e.id LIMIT ?", (limit,))
    return [(str(r[0]), _event_row(r[1:])) for r in rows]


def mqtt_mark_published(store: TimelineStore, key: str) -> None:
    """Record that the broker acknowledged message ``key``."""
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO mqtt_published(key, published_at) VALUES (?, ?)", (key, time.time()))


# ------------------------------------------------------- search, ask, report
def search(config: Config, store: TimelineStore, query: str, *, source_id: str | None, kinds: tuple[str, ...],
           since: float | None, until: float | None, limit: int) -> list[dict[str, Any]]:
    """Hybrid search → moments (keyword side always; vectors when the index and embedder allow)."""
    from scenewatch.errors import BackendUnavailable
    from scenewatch.memory.search import SearchFilters
    from scenewatch.memory.search import search as run_search
    from scenewatch.memory.vectors import VectorIndex
    from scenewatch.runtime.models import embedder as build_embedder

    if since is not None and until is not None and until < since:
        raise BadRequest(f"until ({until}) is before since ({since})")
    embedder = None
    if VectorIndex.for_store(store).model() is not None:
        try:
            embedder = build_embedder(config.perception.embed)
        except BackendUnavailable:
            embedder = None
    filters = SearchFilters(source_id=source_id, kinds=kinds, since=since, until=until)
    return [m.to_dict() for m in run_search(store, query, embedder=embedder, filters=filters, limit=limit)]


_REASONERS: dict[str, Any] = {}
_REASONER_LOCK = threading.Lock()


def ask(config: Config, store: TimelineStore, question: str, source_id: str | None = None) -> dict[str, Any]:
    """A grounded answer with evidence (the configured reasoner when available, else rules only).

    The reasoner is built once per process and used by one request at a time.
    """
    from scenewatch.errors import BackendUnavailable
    from scenewatch.reasoning import build_reasoner
    from scenewatch.reasoning.answer import ask as run_ask
    from scenewatch.runtime.models import index_embedder

    key = config.reasoner.model_dump_json()
    with _REASONER_LOCK:
        if key not in _REASONERS:
            try:
                _REASONERS[key] = build_reasoner(config.reasoner)
            except BackendUnavailable:
                _REASONERS[key] = None
        reasoner = _REASONERS[key]
        return run_ask(store, question, source_id=source_id, reasoner=reasoner, settings=config.reasoner,
                       embedder=index_embedder(config.perception.embed, store)).to_json()


def report(store: TimelineStore, since: float | None, until: float | None, source_id: str | None) -> dict[str, Any]:
    """A period summarised per source (events first, then highlights)."""
    from scenewatch.reasoning.summary import report as run_report

    if since is not None and until is not None and until < since:
        raise BadRequest(f"until ({until}) is before since ({since})")
    return run_report(store, since=since, until=until, source_id=source_id).to_json()
