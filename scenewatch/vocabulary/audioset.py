"""The AudioSet ontology, the part scenewatch needs: YAMNet's 521 classes and parent → children links.

Both ship as ``audioset.json`` (from the AudioSet ontology, CC-BY-4.0, Google). A label may have
several parents (``Car alarm`` sits under ``Car`` and ``Alarm``), so ancestors are a set. The file
is read once, on first use, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath("audioset.json").read_text("utf-8"))
    return data


@lru_cache(maxsize=1)
def labels() -> tuple[str, ...]:
    """The 521 YAMNet display names, in class order."""
    return tuple(name for name, _mid in _data()["labels"])


@lru_cache(maxsize=1)
def mids() -> dict[str, str]:
    """Display name → AudioSet machine id (``Doorbell`` → ``/m/03wwcy``)."""
    return {name: mid for name, mid in _data()["labels"]}


@lru_cache(maxsize=1)
def tree() -> dict[str, tuple[str, ...]]:
    """Parent display name → its direct children (display names), as shipped."""
    return {parent: tuple(kids) for parent, kids in _data()["children"].items()}


@lru_cache(maxsize=1)
def _parents() -> dict[str, tuple[str, ...]]:
    up: dict[str, list[str]] = {}
    for parent, kids in tree().items():
        for kid in kids:
            up.setdefault(kid, []).append(parent)
    return {k: tuple(v) for k, v in up.items()}


def children(label: str) -> tuple[str, ...]:
    """Direct children of ``label`` (empty for a leaf or an unknown label)."""
    return tree().get(label, ())


def parents(label: str) -> tuple[str, ...]:
    """Direct parents of ``label`` (empty for a root or an unknown label)."""
    return _parents().get(label, ())


def _closure(label: str, step: Callable[[str], tuple[str, ...]]) -> frozenset[str]:
    """Every label reached from ``label`` by repeating ``step`` (not ``label`` itself)."""
    out: set[str] = set()
    todo = list(step(label))
    while todo:
        nxt = todo.pop()
        if nxt not in out:
            out.add(nxt)
            todo.extend(step(nxt))
    return frozenset(out)


@lru_cache(maxsize=1024)
def descendants(label: str) -> frozenset[str]:
    """Every label below ``label`` in the ontology (not ``label`` itself)."""
    return _closure(label, children)


@lru_cache(maxsize=1024)
def ancestors(label: str) -> frozenset[str]:
    """Every label above ``label`` in the ontology (not ``label`` itself): ``Ding-dong`` → Doorbell, Door."""
    return _closure(label, parents)


def family(label: str) -> frozenset[str]:
    """``label`` with its descendants: every label that counts as hearing ``label``."""
    return descendants(label) | {label}


def known(label: str) -> bool:
    """Whether ``label`` is one of the 521 display names."""
    return label in mids()
