"""Full-tier reasoner: Qwen2.5-VL through ``transformers``, frames at native resolution within a pixel budget.

Needs ``pip install 'scenewatch[hf]'`` and a model id or local directory in ``reasoner.model``
(``from_pretrained``; real users with internet, or a mounted cache). Frames are passed to the
processor with ``min_pixels``/``max_pixels`` so Qwen2.5-VL's dynamic resolution keeps their
aspect ratio and detail up to ``reasoner.max_pixels``. JSON schemas are enforced by the caller's
checks (the answer is parsed and validated like every other backend's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.reasoning.reasoners import Message
from scenewatch.reasoning.settings import ReasonerSettings


class QwenVLReasoner:
    """Qwen2.5-VL chat with optional frames.

    Args:
        settings: ``model`` is a Hugging Face id or directory; ``max_pixels`` the per-frame budget;
            ``adapter`` an optional LoRA adapter folder applied on top.
        model: an already built model (tests pass a tiny random one).
        processor: its processor.
    """

    name = "qwen-vl"

    def __init__(self, settings: ReasonerSettings | None = None, model: Any = None, processor: Any = None) -> None:
        self.settings = settings or ReasonerSettings(backend="qwen-vl", model="Qwen/Qwen2.5-VL-3B-Instruct")
        try:
            import torch  # noqa: F401
            import transformers
        except ImportError:
            raise BackendUnavailable("the qwen-vl reasoner needs torch and transformers: "
                                     "pip install 'scenewatch[hf]'") from None
        if model is None:
            model = transformers.Qwen2_5_VLForConditionalGeneration.from_pretrained(self.settings.model,
                                                                                    torch_dtype="auto")
            processor = transformers.AutoProcessor.from_pretrained(
                self.settings.model, min_pixels=28 * 28, max_pixels=self.settings.max_pixels)
        if self.settings.adapter:
            model = self._with_adapter(model, self.settings.adapter)
        self.model = model.eval()
        self.processor = processor

    @staticmethod
    def _with_adapter(model: Any, adapter: str) -> Any:
        """The model with a LoRA adapter from ``scenewatch train lora`` applied (peft)."""
        try:
            import peft
        except ImportError:
            raise BackendUnavailable("reasoner.adapter needs peft: pip install 'scenewatch[train]'") from None
        return peft.PeftModel.from_pretrained(model, adapter)

    def _inputs(self, messages: Sequence[Message], schema: Mapping[str, Any] | None,
                images: Sequence[NDArray[np.uint8]]) -> Any:
        chat: list[dict[str, Any]] = []
        for i, m in enumerate(messages):
            content: list[dict[str, Any]] = [{"type": "text", "text": m.content}]
            if i == len(messages) - 1 and images:
                content = [{"type": "image"} for _ in images] + content
            chat.append({"role": m.role, "content": content})
        if schema is not None:
            chat[-1]["content"].append({"type": "text", "text": "Reply with JSON matching this schema: "
                                        + json.dumps(schema)})
        text = self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        pil = [self._pil(im) for im in images]
        return self.processor(text=[text], images=pil or None, return_tensors="pt")

    def _pil(self, image: NDArray[np.uint8]) -> Any:
        from PIL import Image

        return Image.fromarray(image)

    def complete(self, messages: Sequence[Message], schema: Mapping[str, Any] | None = None,
                 max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = ()) -> str:
        """Generate a reply (greedy); frames go to the last message."""
        import torch

        inputs = self._inputs(messages, schema, images)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=max_tokens or self.settings.max_tokens,
                                      do_sample=False)
        new = out[:, inputs["input_ids"].shape[1]:]
        return str(self.processor.batch_decode(new, skip_special_tokens=True)[0])

    def close(self) -> None:
        """Drop the model."""
        self.model = None
