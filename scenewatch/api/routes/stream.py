"""A live stream of new observations and events as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import queries

router = APIRouter(tags=["stream"])
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    request: Request,
    observations: bool = Query(True, description="send new observations"),
    events: bool = Query(True, description="send new events"),
    after_event: int | None = Query(None, ge=0, le=2**62, description="replay events after this id"),
    after_observation: int | None = Query(None, ge=0, le=2**62),
    max_seconds: float = Query(3600.0, gt=0, le=86400, description="close the stream after this long"),
    last_event_id: str | None = Header(None, max_length=64),
    state: ServerState = Depends(get_state),
) -> StreamingResponse:
    """``event: observation`` / ``event: event`` messages with JSON data, as they are stored."""
    obs_id, ev_id = await run_in_threadpool(queries.latest_ids, state.store)
    if last_event_id and last_event_id.startswith("e") and last_event_id[1:].isdigit():
        ev_id = int(last_event_id[1:])
    ev_id = ev_id if after_event is None else after_event
    obs_id = obs_id if after_observation is None else after_observation

    async def messages() -> AsyncIterator[str]:
        nonlocal obs_id, ev_id
        deadline = time.monotonic() + max_seconds
        beat = time.monotonic()
        yield "retry: 2000\n\n"
        while time.monotonic() < deadline and not await request.is_disconnected():
            if events:
                page = await run_in_threadpool(queries.events_page, state.store, after_id=ev_id, limit=100)
                for e in page["items"]:
                    ev_id = e["id"]
                    yield f"id: e{ev_id}\nevent: event\ndata: {json.dumps(e)}\n\n"
            if observations:
                for o in await run_in_threadpool(queries.observations_after, state.store, obs_id):
                    obs_id = o["id"]
                    yield f"event: observation\ndata: {json.dumps(o)}\n\n"
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(messages(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
