"""The FastAPI app factory: one router per resource, auth on every route but health and login.

``create_app(config)`` opens the configured store, makes sure an admin password exists and
mounts the API under ``/api`` (OpenAPI at ``/api/docs``), Prometheus metrics at ``/metrics``
and the web UI at ``/``. Errors a client can cause are 4xx with one clear ``detail`` line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from scenewatch.api.auth import Authenticator, LoginRateLimited
from scenewatch.api.deps import ServerState, require_auth
from scenewatch.api.routes.sources import UPLOAD_PATH
from scenewatch.config import Config
from scenewatch.errors import ScenewatchError, SourceError
from scenewatch.runtime import queries, service
from scenewatch.runtime.queries import BadRequest, NotFound
from scenewatch.runtime.server import SourceManager

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # JSON bodies are small; media uploads have their own route and limit
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                                "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'self'"),
}
DOCS_CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
            "script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation_message(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, exc: BadRequest) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(SourceError)
    async def _source(_: Request, exc: SourceError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(LoginRateLimited)
    async def _limited(_: Request, exc: LoginRateLimited) -> JSONResponse:
        return error(429, str(exc), {"Retry-After": str(max(1, round(exc.retry_after)))})

    @app.exception_handler(ScenewatchError)
    async def _scenewatch(_: Request, exc: ScenewatchError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _install_middleware(app: FastAPI, state: ServerState) -> None:
    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        length = request.headers.get("content-length")
        upload = request.url.path == UPLOAD_PATH  # streamed to disk under its own limit
        if not upload and length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            response: Response = JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, 413)
        else:
            response = await call_next(request)
        docs = request.url.path.startswith("/api/docs") or request.url.path.startswith("/api/redoc")
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, DOCS_CSP if docs and key == "Content-Security-Policy" else value)
        route = request.scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        if route is not None and request.url.path.startswith("/api/") and not path.startswith("/api"):
            path = "/api" + path  # routers included with a prefix report their own path
        state.metrics.observe(request.method, path, response.status_code, time.perf_counter() - t0)
        return response

    if state.config.serve.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=state.config.serve.cors_origins,
                           allow_credentials=True, allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])


def create_app(config: Config, manager: SourceManager | None = None) -> FastAPI:
    """Build the app for ``config``.

    Args:
        config: the validated config (``serve`` section: auth, limits; ``store``: the timeline).
        manager: the running source workers (``None``: serve the store read-mostly, no workers).
    """
    from scenewatch.api.routes import ROUTERS, system, ui

    store = service.open_store(config)
    password = config.serve.password.get_secret_value() if config.serve.password else None
    if config.serve.auth and queries.ensure_admin_password(store, password):
        log.warning("an admin password was generated; set serve.password or run `scenewatch serve` to see it")
    state = ServerState(config=config, store=store, auth=Authenticator(config.serve, store), manager=manager)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for stop in state.extras.get("on_shutdown", []):
            stop()
        state.store.close()

    app = FastAPI(title="scenewatch", version="0.1.0", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=lifespan,
                  description="Watch video and sound, remember it, answer for it.")
    app.state.server = state
    _install_error_handlers(app)
    _install_middleware(app, state)
    app.include_router(system.public)
    for router in ROUTERS:
        app.include_router(router, prefix="/api", dependencies=[Depends(require_auth)])
    app.include_router(system.metrics)
    ui.mount(app)
    return app
