"""Helpers shared by CLI subcommands: config loading from flags, JSON output, consoles."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from scenewatch.config import Config, load_config

console = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML/TOML config file.", show_default=False)
DbOption = typer.Option(None, "--db", help="Timeline database (default: user data dir; env SCENEWATCH_DB).",
                        show_default=False)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON to stdout.")


def build_config(config_path: Path | None, db: Path | None = None, **overrides: Any) -> Config:
    """Load the config file/env and apply CLI flags (nested dicts) on top."""
    merged: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if db is not None:
        merged.setdefault("store", {})["path"] = str(db)
    return load_config(config_path, merged)


def print_json(data: Any) -> None:
    """Write JSON to stdout (one document, UTF-8)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
