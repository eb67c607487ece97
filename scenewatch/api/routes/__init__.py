"""One router per resource; each handler parses input and calls the runtime layer."""

from __future__ import annotations

from fastapi import APIRouter

from scenewatch.api.routes import ask, events, media, observations, reviews, sources, stream, tokens

ROUTERS: list[APIRouter] = [sources.router, observations.router, events.router, ask.router, media.router,
                            stream.router, tokens.router, reviews.router]
