"""Settings for embeddings."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class EmbedSettings(Section):
    """Which embedder runs for text (and images, in the full tier)."""

    backend: str = Field("minilm", description="registered embedder name")
    model: str | None = Field(None, description="model id or path for full-tier backends")
    batch_size: int = Field(32, ge=1, le=1024)
