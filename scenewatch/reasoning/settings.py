"""Settings for the reasoning core."""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section


class ReasonerSettings(Section):
    """Which reasoner answers and how."""

    backend: str = Field("llama-cpp", description="registered reasoner name")
    model: str = Field("qwen2.5-1.5b", description="embedded GGUF name, a path, or a model id")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL (openai backend)")
    api_key: str | None = Field(None, description="API key for the endpoint")
    max_tokens: int = Field(160, ge=8, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)
    threads: int = Field(2, ge=1, le=64)
    context_tokens: int = Field(2048, ge=256)
    timeout: float = Field(60.0, gt=0)
