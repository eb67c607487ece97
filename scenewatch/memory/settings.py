"""Settings for the timeline store and its media."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from scenewatch._settings_base import Section


def default_db_path() -> Path:
    """``<user data dir>/scenewatch/scenewatch.db``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("scenewatch", appauthor=False)) / "scenewatch.db"


class StoreSettings(Section):
    """Where the timeline lives and how long it is kept."""

    path: Path = Field(default_factory=default_db_path, description="SQLite database file")
    media_dir: Path | None = Field(None, description="thumbnails dir (default: <db>.media next to the DB)")
    retention_days: float | None = Field(None, gt=0, description="drop observations older than this")
    retention_gb: float | None = Field(None, gt=0, description="cap on thumbnail disk use")
    context_minutes: float = Field(10.0, gt=0, description="length of the rolling context")

    def resolved_media_dir(self) -> Path:
        """The thumbnails directory actually used."""
        return self.media_dir or self.path.with_suffix(".media")
