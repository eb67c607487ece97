"""Health, login/logout (public) and Prometheus metrics (authenticated)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from scenewatch.api.auth import SESSION_COOKIE, Principal
from scenewatch.api.deps import ServerState, get_state, principal, require_auth

public = APIRouter(tags=["system"])
metrics = APIRouter(tags=["system"])


class Login(BaseModel):
    """Admin login."""

    password: str = Field(..., min_length=1, max_length=1024)


@public.get("/api/health")
def health(state: ServerState = Depends(get_state)) -> dict[str, object]:
    """Liveness: the store answers and how many workers run."""
    state.store.execute("SELECT 1")
    running = sum(1 for s in state.manager.statuses() if s.state == "running") if state.manager else 0
    return {"status": "ok", "workers": running}


@public.post("/api/auth/login")
def login(body: Login, request: Request, response: Response, state: ServerState = Depends(get_state)) -> dict[str, str]:
    """Exchange the admin password for a session cookie (rate-limited per client)."""
    if not state.auth.enabled:
        return {"status": "auth disabled"}
    client = request.client.host if request.client else "unknown"
    session = state.auth.login(body.password, client)
    if session is None:
        raise HTTPException(401, "wrong password")
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=int(state.config.serve.session_hours * 3600))
    return {"status": "ok"}


@public.post("/api/auth/logout")
def logout(request: Request, response: Response, state: ServerState = Depends(get_state)) -> dict[str, str]:
    """End the session."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        state.auth.logout(session)
    response.delete_cookie(SESSION_COOKIE)
    return {"status": "ok"}


@public.get("/api/auth/me")
def me(who: Principal | None = Depends(principal)) -> dict[str, object]:
    """Whether the caller is authenticated, and how."""
    return {"authenticated": who is not None, "kind": who.kind if who else None}


@metrics.get("/api/workers", dependencies=[Depends(require_auth)])
def workers(state: ServerState = Depends(get_state)) -> list[dict[str, object]]:
    """Every source worker's status; under ``serve --ray`` each names its actor (node, pid, resources, state)."""
    return [s.to_json() for s in state.manager.statuses()] if state.manager else []


@metrics.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(require_auth)])
def prometheus(state: ServerState = Depends(get_state)) -> str:
    """Prometheus text exposition: requests, per-source worker status, row counts."""
    sources = [s.to_json() for s in state.manager.statuses()] if state.manager else []
    counts = {t: int(state.store.execute(f"SELECT COUNT(*) FROM {t}")[0][0])  # fixed table names
              for t in ("observations", "events", "sources")}
    return state.metrics.render(sources, counts)
