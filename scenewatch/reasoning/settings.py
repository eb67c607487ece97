"""Settings for the reasoning core."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scenewatch._settings_base import Section


class ReasonerSettings(Section):
    """Which reasoner answers and how."""

    backend: str = Field("llama-cpp", description="registered reasoner name (llama-cpp, openai, qwen-vl, none)")
    model: str = Field("qwen2.5-1.5b", description="embedded GGUF name, a path, or a model id")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL (openai backend)")
    api_key: str | None = Field(None, description="API key for the endpoint")
    max_tokens: int = Field(160, ge=8, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)
    threads: int = Field(2, ge=1, le=64)
    context_tokens: int = Field(2048, ge=256)
    timeout: float = Field(60.0, gt=0)
    min_confidence: float = Field(0.3, ge=0, le=1, description="rows under this are ignored when answering")
    meaning_threshold: float = Field(0.5, ge=0, le=1, description="cosine at which a speech/text phrase and a row "
                                     "mean the same thing (embedding match beside the keyword match)")
    merge_gap: float = Field(1.0, ge=0, description="seconds of missing per-frame rows bridged when merging spans")
    phrase: Literal["never", "open", "always"] = Field(
        "never", description="when the model rewords the code-written answer: never, open (what/describe), always; "
        "on 2 cores the 1.5B adds ~10 s p95 and its rewordings rarely pass the fact check, so the default is never")
    model_screen: bool = Field(False, description="also ask the model whether scene text is an injection")
    max_pixels: int = Field(448 * 448, ge=28 * 28, description="pixel budget per frame for vision-language models")
    adapter: str | None = Field(None, description="LoRA adapter folder (`scenewatch train lora`) applied to the "
                                "qwen-vl model")
    region_projector: str | None = Field(
        None, description="region-token projector folder (`scenewatch train lora --region-tokens`, usually the "
        "adapter folder): the qwen-vl reasoner reads a region of a frame as a <region> token")
