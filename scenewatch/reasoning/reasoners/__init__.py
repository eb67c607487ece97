"""Reasoner backends behind one protocol, registered by name.

A reasoner turns chat messages (and optional frames) into text, optionally constrained by a
JSON schema. It plans questions the rules miss and phrases answers from retrieved evidence;
it never sees the raw timeline and nothing it writes can trigger an action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from scenewatch.registry import Registry


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@runtime_checkable
class Reasoner(Protocol):
    """A language model that completes chat messages, optionally into a JSON schema.

    Attributes:
        name: the backend's registry name.
        accepts_images: the model reads the ``images`` of :meth:`complete` (vision-language);
            open questions then get the frame at the answer's newest evidence time.
    """

    name: str
    accepts_images: bool

    def complete(
        self,
        messages: Sequence[Message],
        schema: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        images: Sequence[NDArray[np.uint8]] = (),
    ) -> str:
        """Return the assistant's reply (JSON text when ``schema`` is given).

        Args:
            messages: the conversation, system message first.
            schema: JSON schema the reply must follow (grammar-constrained where supported).
            max_tokens: cap on generated tokens.
            images: ``H×W×3`` uint8 RGB frames for vision-language models; text-only backends ignore them.
        """
        ...

    def close(self) -> None:
        """Release the model."""
        ...


REASONERS: Registry[type[Reasoner]] = Registry("reasoner", {
    "llama-cpp": "scenewatch.reasoning.reasoners.llama_cpp:LlamaCppReasoner",
    "openai": "scenewatch.reasoning.reasoners.openai_compat:OpenAICompatReasoner",
    "qwen-vl": "scenewatch.reasoning.reasoners.qwen_vl:QwenVLReasoner",
    "none": "scenewatch.reasoning.reasoners.none:NoReasoner",
})

__all__ = ["REASONERS", "Message", "Reasoner"]
