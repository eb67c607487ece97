"""Helpers shared by the serving tests (config, ports, the real scene timeline)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from scenewatch.config import Config

SCENE = Path(__file__).resolve().parents[1] / "fixtures" / "scene" / "scene.mp4"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config(db: Path, serve: dict[str, Any] | None = None, **extra: Any) -> Config:
    """Config for tests: the scene's concepts, rules-only reasoning, a known admin password."""
    extra.setdefault("concepts", ["package", "doorbell"])
    return Config(store={"path": str(db)}, reasoner={"backend": "none"},
                  serve={"password": PASSWORD, **(serve or {})}, **extra)
