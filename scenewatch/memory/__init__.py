"""Memory: the timeline store (SQLite or PostgreSQL), vectors, search, context, retention."""

from scenewatch.memory.backends import open_store

__all__ = ["open_store"]
