"""Observations: filtered, cursor-paginated listing and single rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import queries

router = APIRouter(prefix="/observations", tags=["observations"])

KINDS = ("scene", "motion", "object", "text", "speech", "sound", "gap", "caption")


def _time(what: str) -> Any:
    return Query(None, ge=0, le=1e10, description=f"media seconds: {what}")


@router.get("")
def list_observations(
    source_id: str | None = Query(None, max_length=200),
    kind: list[str] | None = Query(None, max_length=len(KINDS), description=f"any of {', '.join(KINDS)}"),
    label: str | None = Query(None, max_length=200),
    text: str | None = Query(None, max_length=500, description="words in the label or text"),
    since: float | None = _time("the span ends at or after this"),
    until: float | None = _time("the span starts at or before this"),
    min_confidence: float = Query(0.0, ge=0, le=1),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    state: ServerState = Depends(get_state),
) -> dict[str, Any]:
    """Observations in time order; ``next_cursor`` fetches the next page (``null`` on the last)."""
    bad = [k for k in kind or [] if k not in KINDS]
    if bad:
        raise queries.BadRequest(f"unknown kind {bad[0]!r}; kinds: {', '.join(KINDS)}")
    flt = queries.ObservationFilter(source_id=source_id, kinds=tuple(kind or ()), label=label, since=since,
                                    until=until, text=text, min_confidence=min_confidence)
    return queries.observations_page(state.store, flt, min(limit, state.config.serve.max_page), cursor)


@router.get("/{observation_id}")
def get_observation(observation_id: int = Path(..., ge=1, le=2**62),
                    state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """One observation."""
    return queries.observation_json(queries.get_observation(state.store, observation_id))
