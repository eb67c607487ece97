"""The web UI: server-rendered pages (Jinja2) that load data from the API with small vanilla JS."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from scenewatch.api.auth import Principal
from scenewatch.api.deps import principal
from scenewatch.ui import STATIC_DIR, TEMPLATES_DIR

PAGES = {"live": "Live", "timeline": "Timeline", "search": "Search", "events": "Events", "ask": "Ask",
         "tokens": "Tokens"}


def mount(app: FastAPI) -> None:
    """Add the pages and ``/static`` to ``app``."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {"pages": PAGES, "page": "login"})

    def page(name: str) -> None:
        @app.get("/" if name == "live" else f"/{name}", include_in_schema=False, response_class=HTMLResponse,
                 name=f"ui_{name}")
        def render(request: Request, who: Principal | None = Depends(principal)) -> Response:
            if who is None:
                return RedirectResponse("/login", status_code=303)
            return templates.TemplateResponse(request, f"{name}.html", {"pages": PAGES, "page": name})

    for name in PAGES:
        page(name)
