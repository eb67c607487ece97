"""The package's import directions (docs/architecture.md): lower layers never reach up.

Reads every module's imports with ``ast`` (also those under ``if TYPE_CHECKING:`` and inside
functions, since a lazy import is still a dependency) and fails on a forbidden direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scenewatch"

# layer -> layers it must never import (``config`` is the root config tree).
FORBIDDEN: dict[str, set[str]] = {
    "types": {"*"},
    "payloads": {"*"},
    "errors": {"*"},
    "registry": {"*"},
    "weights": {"*"},
    "vocabulary": {"ingest", "perception", "memory", "triggers", "reasoning", "training", "runtime", "api", "ui",
                   "cli", "config"},
    "ingest": {"perception", "memory", "triggers", "reasoning", "training", "runtime", "api", "ui", "cli"},
    "perception": {"memory", "triggers", "reasoning", "training", "runtime", "api", "ui", "cli", "config"},
    "memory": {"perception", "triggers", "reasoning", "training", "runtime", "api", "ui", "cli"},
    "triggers": {"runtime", "api", "ui", "cli"},
    "reasoning": {"runtime", "api", "ui", "cli"},
    "training": {"runtime", "api", "ui", "cli"},
    "runtime": {"api", "ui", "cli"},
    "api": {"cli", "perception", "memory", "ingest", "triggers", "reasoning", "training"},
    # Surfaces are thin: every operation goes through the runtime service layer (``serve`` may start the API).
    "cli": {"perception", "memory", "ingest", "triggers", "reasoning", "training"},
}
# Modules every layer may use: the shared currency and plumbing.
BASE = {"types", "payloads", "errors", "registry", "weights", "_settings_base", "spans"}


def _layer(path: Path, root: Path) -> str:
    return path.relative_to(root).parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "scenewatch":  # ``from scenewatch import memory``
                names = [f"scenewatch.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "scenewatch" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _violations(root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        layer = _layer(path, root)
        forbidden = FORBIDDEN.get(layer)
        if not forbidden:
            continue
        for line, target in _imported_layers(path):
            if target == layer or target in BASE:
                continue
            if "*" in forbidden or target in forbidden:
                bad.append(f"{path.relative_to(root.parent)}:{line}: {layer} imports {target}")
    return bad


def test_no_layer_imports_upwards() -> None:
    bad = _violations()
    assert not bad, "imports against the layer directions:\n" + "\n".join(bad)


@pytest.mark.parametrize(("layer", "target"), [("perception", "runtime"), ("memory", "perception"),
                                                ("ingest", "memory"), ("reasoning", "runtime"), ("runtime", "cli")])
def test_rules_cover_the_issue_directions(layer: str, target: str) -> None:
    assert target in FORBIDDEN[layer]


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    root = tmp_path / "scenewatch"
    (root / "perception").mkdir(parents=True)
    (root / "perception" / "probe.py").write_text(
        "def f() -> None:\n    from scenewatch.runtime import service\n", encoding="utf-8")
    (root / "memory").mkdir()
    (root / "memory" / "ok.py").write_text("from scenewatch.types import Observation\n", encoding="utf-8")
    assert _violations(root) == ["scenewatch/perception/probe.py:2: perception imports runtime"]
