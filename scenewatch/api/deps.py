"""What route handlers share, injected with ``Depends`` so tests can override it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request

from scenewatch.api.auth import SESSION_COOKIE, Authenticator, Principal
from scenewatch.api.metrics import Metrics
from scenewatch.config import Config
from scenewatch.runtime.queries import TimelineStore
from scenewatch.runtime.server import SourceManager


@dataclass
class ServerState:
    """The objects one server process holds for its lifetime."""

    config: Config
    store: TimelineStore
    auth: Authenticator
    manager: SourceManager | None = None
    metrics: Metrics = field(default_factory=Metrics)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def media_dir(self) -> Path:
        """Where thumbnails live."""
        return self.config.store.resolved_media_dir()


def get_state(request: Request) -> ServerState:
    """The server state (override in tests)."""
    state: ServerState = request.app.state.server
    return state


def principal(request: Request, state: ServerState = Depends(get_state)) -> Principal | None:
    """Who is calling, or ``None``."""
    return state.auth.check(request.cookies.get(SESSION_COOKIE), request.headers.get("authorization"))


def require_auth(who: Principal | None = Depends(principal)) -> Principal:
    """Refuse unauthenticated requests with 401."""
    if who is None:
        raise HTTPException(401, "authentication required: log in, or send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    return who


def require_manager(state: ServerState = Depends(get_state)) -> SourceManager:
    """The source manager, or 503 when this server runs without workers."""
    if state.manager is None:
        raise HTTPException(503, "this server runs without pipeline workers")
    return state.manager
