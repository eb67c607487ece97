"""A small explicit registry of named backends with lazy imports.

Each stage package declares its registry with ``"name": "module:attribute"`` entries, so
``import scenewatch`` never imports a heavy backend; the module is imported the first time
the backend is asked for.

Example:
    >>> TRANSCRIBERS = Registry("transcriber", {"faster-whisper": "pkg.mod:Cls"})
    >>> cls = TRANSCRIBERS.get("faster-whisper")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar, cast

from scenewatch.errors import UnknownBackend

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps backend names to lazily imported objects (usually classes)."""

    def __init__(self, kind: str, entries: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._paths: dict[str, str] = dict(entries or {})
        self._loaded: dict[str, T] = {}

    def register(self, name: str, target: str | T) -> None:
        """Add a backend, either as ``"module:attr"`` or as the object itself."""
        if isinstance(target, str):
            self._paths[name] = target
        else:
            self._loaded[name] = target
            self._paths.setdefault(name, f"{getattr(target, '__module__', '?')}:{name}")

    def names(self) -> list[str]:
        """Registered backend names, sorted."""
        return sorted(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """Return the backend registered as ``name``, importing it on first use."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._paths:
            raise UnknownBackend(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names()) or '(none)'}"
            )
        module_name, _, attr = self._paths[name].partition(":")
        module = importlib.import_module(module_name)
        obj = cast(T, getattr(module, attr))
        self._loaded[name] = obj
        return obj
