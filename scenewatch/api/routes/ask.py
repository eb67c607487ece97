"""Search, ask and report: the questions people put to the timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from scenewatch.api.deps import ServerState, get_state
from scenewatch.api.routes.observations import KINDS
from scenewatch.runtime import queries

router = APIRouter(tags=["search"])


class Question(BaseModel):
    """A question about what was seen and heard."""

    question: str = Field(..., min_length=1, max_length=500)
    source_id: str | None = Field(None, max_length=200)


@router.get("/search")
async def search(
    q: str = Query(..., min_length=1, max_length=500, description="what to look for, in plain words"),
    source_id: str | None = Query(None, max_length=200),
    kind: list[str] | None = Query(None, max_length=len(KINDS)),
    since: float | None = Query(None, ge=0, le=1e10),
    until: float | None = Query(None, ge=0, le=1e10),
    limit: int = Query(10, ge=1, le=200),
    state: ServerState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Moments matching the words (keyword + vector search), best first."""
    bad = [k for k in kind or [] if k not in KINDS]
    if bad:
        raise queries.BadRequest(f"unknown kind {bad[0]!r}; kinds: {', '.join(KINDS)}")
    return await run_in_threadpool(queries.search, state.config, state.store, q, source_id=source_id,
                                   kinds=tuple(kind or ()), since=since, until=until, limit=limit)


@router.post("/ask")
async def ask(body: Question, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """A grounded answer with evidence (times, boxes, observation ids)."""
    return await run_in_threadpool(queries.ask, state.config, state.store, body.question, body.source_id)


@router.get("/report")
async def report(
    since: float | None = Query(None, ge=0, le=1e10),
    until: float | None = Query(None, ge=0, le=1e10),
    source_id: str | None = Query(None, max_length=200),
    state: ServerState = Depends(get_state),
) -> dict[str, Any]:
    """A period summarised per source: events, highlights, a narrative."""
    return await run_in_threadpool(queries.report, state.store, since, until, source_id)
