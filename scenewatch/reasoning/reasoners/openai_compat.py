"""Reasoner over any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted APIs).

Frames are attached as PNG data URLs (``image_url`` parts) for vision-language models such as
Qwen2.5-VL, downscaled to the pixel budget; JSON schemas go in ``response_format``.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ConfigError, ScenewatchError
from scenewatch.reasoning.reasoners import Message
from scenewatch.reasoning.settings import ReasonerSettings


def image_data_url(image: NDArray[np.uint8], max_pixels: int) -> str:
    """``data:image/png;base64,…`` of an ``H×W×3`` frame, scaled down to at most ``max_pixels``."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("frames must be HxWx3 uint8")
    pil = Image.fromarray(image)
    h, w = image.shape[:2]
    if h * w > max_pixels:
        scale = math.sqrt(max_pixels / (h * w))
        pil = pil.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAICompatReasoner:
    """Chat completions over HTTP.

    Args:
        settings: ``endpoint`` (base URL, with or without ``/v1``), ``model``, ``api_key``, ``timeout``.

    Raises:
        ConfigError: no endpoint configured.
        BackendUnavailable: httpx is not installed.
    """

    name = "openai"
    accepts_images = False

    def __init__(self, settings: ReasonerSettings | None = None) -> None:
        self.settings = settings or ReasonerSettings(backend="openai")
        if not self.settings.endpoint:
            raise ConfigError("reasoner.endpoint is required for the openai backend (e.g. http://127.0.0.1:8000/v1)")
        try:
            import httpx
        except ImportError:
            raise BackendUnavailable("the openai backend needs httpx: pip install 'scenewatch[actions]'") from None
        base = self.settings.endpoint.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        headers = {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}
        self._client = httpx.Client(timeout=self.settings.timeout, headers=headers)

    def build_request(self, messages: Sequence[Message], schema: Mapping[str, Any] | None = None,
                      max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = ()) -> dict[str, Any]:
        """The JSON body of one request (frames go into the last user message)."""
        body_messages: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in messages]
        if images:
            last = max(i for i, m in enumerate(messages) if m.role == "user")
            parts: list[dict[str, Any]] = [{"type": "text", "text": messages[last].content}]
            parts += [{"type": "image_url", "image_url": {"url": image_data_url(im, self.settings.max_pixels)}}
                      for im in images]
            body_messages[last]["content"] = parts
        body: dict[str, Any] = {"model": self.settings.model, "messages": body_messages,
                                "max_tokens": max_tokens or self.settings.max_tokens,
                                "temperature": self.settings.temperature}
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "strict": True, "schema": dict(schema)}}
        return body

    def complete(self, messages: Sequence[Message], schema: Mapping[str, Any] | None = None,
                 max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = ()) -> str:
        """POST one chat completion and return the reply text."""
        import httpx

        body = self.build_request(messages, schema, max_tokens, images)
        try:
            r = self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise ScenewatchError(f"reasoner endpoint {self.url} unreachable: {exc}") from None
        if r.status_code != 200:
            raise ScenewatchError(f"reasoner endpoint {self.url} answered HTTP {r.status_code}: {r.text[:200]}")
        try:
            return str(r.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ScenewatchError(f"reasoner endpoint {self.url} returned an unexpected body") from None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
