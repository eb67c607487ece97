"""Full-tier reasoner: Qwen2.5-VL through ``transformers``, frames at native resolution within a pixel budget.

Needs ``pip install 'scenewatch[hf]'`` and a model id or local directory in ``reasoner.model``
(``from_pretrained``; real users with internet, or a mounted cache). Frames are passed to the
processor with ``min_pixels``/``max_pixels`` so Qwen2.5-VL's dynamic resolution keeps their
aspect ratio and detail up to ``reasoner.max_pixels``. JSON schemas are enforced by the caller's
checks (the answer is parsed and validated like every other backend's).

With ``reasoner.region_projector`` (a projector trained by ``scenewatch train lora --region-tokens``)
a question can carry regions — boxes in pixels on frames, e.g. an answer's evidence box: each becomes
one ``<region>`` token whose embedding is the projector applied to the region's pooled vision features,
inserted by the same code training uses (:mod:`scenewatch.training.ren`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.reasoning.reasoners import Message
from scenewatch.reasoning.settings import ReasonerSettings
from scenewatch.types import Evidence

if TYPE_CHECKING:
    from scenewatch.training.ren import Region, RegionTokens

REGION_TOKEN = "<region>"


class QwenVLReasoner:
    """Qwen2.5-VL chat with optional frames.

    Args:
        settings: ``model`` is a Hugging Face id or directory; ``max_pixels`` the per-frame budget;
            ``adapter`` an optional LoRA adapter folder applied on top.
            ``region_projector`` an optional region-token projector folder.
        model: an already built model (tests pass a tiny random one).
        processor: its processor.
        region_tokens: an already loaded projector and encoder (instead of ``region_projector``).
    """

    name = "qwen-vl"
    accepts_images = True

    def __init__(self, settings: ReasonerSettings | None = None, model: Any = None, processor: Any = None,
                 region_tokens: RegionTokens | None = None) -> None:
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
            from scenewatch.training.processor import load_processor

            processor = load_processor(self.settings.model, min_pixels=28 * 28, max_pixels=self.settings.max_pixels)
        if self.settings.adapter:
            model = self._with_adapter(model, self.settings.adapter)
        self.model = model.eval()
        self.processor = processor
        if region_tokens is None and self.settings.region_projector:
            from scenewatch.training.ren import load_region_tokens

            region_tokens = load_region_tokens(Path(self.settings.region_projector), self.model, processor)
        self.region_tokens = region_tokens

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
                 max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = (),
                 regions: Sequence[Region] = ()) -> str:
        """Generate a reply (greedy); frames go to the last message.

        Args:
            messages: the conversation.
            schema: JSON schema the reply must follow.
            max_tokens: cap on generated tokens.
            images: frames shown to the model.
            regions: regions the question is about, one per ``<region>`` placeholder in reading order
                (placeholders are appended to the last message when it has none); needs
                ``reasoner.region_projector``.
        """
        import torch

        messages = self._with_placeholders(messages, len(regions))
        inputs = self._inputs(messages, schema, images)
        extra: dict[str, Any] = {}
        if getattr(self.model.generation_config, "eos_token_id", None) is None:  # stop at the end of the turn
            extra["eos_token_id"] = self.processor.tokenizer.eos_token_id
        with torch.no_grad(), self.regions_inserted(regions):
            out = self.model.generate(**inputs, max_new_tokens=max_tokens or self.settings.max_tokens,
                                      do_sample=False, **extra)
        new = out[:, inputs["input_ids"].shape[1]:]
        return str(self.processor.batch_decode(new, skip_special_tokens=True)[0])

    def ask_region(self, question: str, frame: NDArray[np.uint8], box: tuple[float, float, float, float],
                   max_tokens: int | None = None) -> str:
        """Answer a question about a box (frame pixels) of ``frame``, e.g. "What is <region>?"."""
        from scenewatch.training.ren import Region

        return self.complete([Message("user", question)], max_tokens=max_tokens, regions=[Region(frame, box)])

    @staticmethod
    def region_of(evidence: Evidence, frame: NDArray[np.uint8]) -> Region:
        """The region an answer's evidence cites (its box on the frame at its time)."""
        from scenewatch.training.ren import Region

        if evidence.box is None:
            raise ValueError(f"evidence {evidence.observation_id} ({evidence.kind}) has no box")
        return Region(frame, evidence.box)

    def regions_inserted(self, regions: Sequence[Region]) -> AbstractContextManager[None]:
        """Within the block the model reads ``regions`` at the prompt's ``<region>`` tokens."""
        if not regions:
            return nullcontext()
        if self.region_tokens is None:
            raise BackendUnavailable("questions about a region need reasoner.region_projector "
                                     "(scenewatch train lora --region-tokens)")
        from scenewatch.training.ren import regions_inserted

        vectors = self.region_tokens.vectors(regions)
        return regions_inserted(self.model, self.region_tokens.token_id, vectors)

    @staticmethod
    def _with_placeholders(messages: Sequence[Message], count: int) -> Sequence[Message]:
        held = sum(m.content.count(REGION_TOKEN) for m in messages)
        if count == 0 or held == count:
            return messages
        if held:
            raise ValueError(f"the question has {held} {REGION_TOKEN} placeholder(s) for {count} region(s)")
        last = messages[-1]
        return [*messages[:-1], Message(last.role, f"{last.content} {' '.join([REGION_TOKEN] * count)}")]

    def close(self) -> None:
        """Drop the model."""
        self.model = None
