"""Events: the review feed (new → reviewed), acknowledge, mark false positive."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import queries

router = APIRouter(prefix="/events", tags=["events"])
EventId = Path(..., ge=1, le=2**62)


class Review(BaseModel):
    """A change of an event's review state."""

    state: Literal["new", "reviewed"] | None = None
    false_positive: bool | None = None
    note: str | None = Field(None, max_length=2000)


@router.get("")
def list_events(
    source_id: str | None = Query(None, max_length=200),
    state: Literal["new", "reviewed"] | None = Query(None),
    since: float | None = Query(None, ge=0, le=1e10),
    until: float | None = Query(None, ge=0, le=1e10),
    include_false_positives: bool = Query(True),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200),
    server: ServerState = Depends(get_state),
) -> dict[str, Any]:
    """Events newest first with their review state; ``next_cursor`` pages back in time."""
    return queries.events_page(server.store, source_id=source_id, state=state, since=since, until=until,
                               include_false_positives=include_false_positives, limit=limit, cursor=cursor)


@router.get("/{event_id}")
def get_event(event_id: int = EventId, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """One event."""
    return queries.get_event(server.store, event_id)


@router.patch("/{event_id}")
def review(body: Review, event_id: int = EventId, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Change review state, false-positive flag or note."""
    return queries.review_event(server.store, event_id, state=body.state, false_positive=body.false_positive,
                                note=body.note)


@router.post("/{event_id}/ack")
def acknowledge(event_id: int = EventId, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Mark an event reviewed."""
    return queries.review_event(server.store, event_id, state="reviewed")


@router.post("/{event_id}/false-positive")
def false_positive(event_id: int = EventId, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Mark an event a false positive (and reviewed)."""
    return queries.review_event(server.store, event_id, false_positive=True)
