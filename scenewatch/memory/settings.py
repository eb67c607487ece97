"""Settings for the timeline store and its media."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from scenewatch._settings_base import Section


def default_db_path() -> Path:
    """``<user data dir>/scenewatch/scenewatch.db``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("scenewatch", appauthor=False)) / "scenewatch.db"


class StoreSettings(Section):
    """Where the timeline lives and how long it is kept."""

    path: Path = Field(default_factory=default_db_path, description="SQLite database file")
    url: str | None = Field(None, description="PostgreSQL database URL (postgresql://user@host:port/db); "
                                               "replaces the SQLite file when set")
    media_dir: Path | None = Field(None, description="thumbnails dir (default: <db>.media next to the DB)")
    retention_days: float | None = Field(None, gt=0, description="drop observations older than this")
    retention_gb: float | None = Field(None, gt=0, description="cap on thumbnail disk use")
    context_minutes: float = Field(10.0, gt=0, description="length of the rolling context")

    @model_validator(mode="before")
    @classmethod
    def _url_given_as_path(cls, data: Any) -> Any:
        """``--db postgresql://…``, ``SCENEWATCH_DB`` and ``store.path`` may name a database URL."""
        if isinstance(data, dict) and data.get("path") is not None:
            # A URL that went through pathlib (the CLI's --db is a Path) lost one slash of "//".
            m = re.match(r"(?i)(postgres(?:ql)?):/+(.*)", str(data["path"]))
            if m:
                data = {k: v for k, v in data.items() if k != "path"}
                data["url"] = f"{m.group(1).lower()}://{m.group(2)}"
        return data

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(?i)postgres(ql)?://", value):
            raise ValueError(f"store.url must be a postgresql://user@host:port/database URL, not {value!r}")
        return value

    @property
    def target(self) -> str | Path:
        """What :func:`scenewatch.memory.backends.open_store` opens: the database URL, else the file."""
        return self.url or self.path

    @property
    def location(self) -> str:
        """The store as shown to people: the file, or the URL with its password hidden."""
        return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", self.url) if self.url else str(self.path)

    def resolved_media_dir(self) -> Path:
        """The thumbnails directory actually used."""
        return self.media_dir or self.path.with_suffix(".media")
