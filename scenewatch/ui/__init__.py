"""The web UI's assets: Jinja2 templates and small vanilla JS/CSS (no build step)."""

from __future__ import annotations

from pathlib import Path

UI_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = UI_DIR / "templates"
STATIC_DIR = UI_DIR / "static"
