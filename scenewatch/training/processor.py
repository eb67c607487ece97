"""Loading a Qwen-VL processor from a local folder, with or without torchvision.

``AutoProcessor`` builds Qwen2-VL / Qwen2.5-VL's full processor, whose video half needs torchvision.
Training and the full-tier reasoner only pass frames as images, so where the full processor cannot be
built (no torchvision, or a folder saved without a video processor) an image-only processor is
assembled from the folder's image processor, tokenizer and chat template instead. It tokenises and
expands ``<|image_pad|>`` exactly as the full one does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scenewatch.errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)

_IMAGE_ONLY: Any = None


def image_only_processor(image_processor: Any, tokenizer: Any, chat_template: str | None) -> Any:
    """A Qwen2.5-VL processor without the video processor (so without torchvision)."""
    global _IMAGE_ONLY
    if _IMAGE_ONLY is None:
        import transformers

        class QwenVLImageOnlyProcessor(transformers.Qwen2_5_VLProcessor):
            """Qwen2.5-VL's processor for images and text only."""

            attributes = ["image_processor", "tokenizer"]  # noqa: RUF012 (overrides the parent's list)

            def __init__(self, image_processor: Any, tokenizer: Any, chat_template: str | None = None) -> None:
                transformers.ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)
                self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
                self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
                self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)

        _IMAGE_ONLY = QwenVLImageOnlyProcessor
    return _IMAGE_ONLY(image_processor, tokenizer, chat_template)


def _chat_template(folder: Path, tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if template:
        return str(template)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    if (folder / "chat_template.json").is_file():
        return str(json.loads((folder / "chat_template.json").read_text())["chat_template"])
    return None


def load_processor(path: str, **image_kwargs: Any) -> Any:
    """The processor of a model folder or id: ``AutoProcessor`` when it can build one with an image processor,
    else the image-only Qwen-VL processor from the folder's parts.

    Args:
        path: model directory (or a hub id, for the ``AutoProcessor`` attempt).
        image_kwargs: passed to the image processor (``min_pixels``, ``max_pixels``).

    Raises:
        BackendUnavailable: transformers is missing.
        ConfigError: the folder holds no image processor and tokenizer.
    """
    try:
        import transformers
    except ImportError:
        raise BackendUnavailable("VL models need torch and transformers: pip install 'scenewatch[train]'") from None
    try:
        processor = transformers.AutoProcessor.from_pretrained(path, **image_kwargs)
    except (ImportError, OSError, ValueError) as exc:  # the video processor needs torchvision
        log.info("AutoProcessor could not load %s (%s); assembling an image-only processor", path, exc)
        processor = None
    if processor is not None and hasattr(processor, "image_processor"):
        return processor
    try:
        image = transformers.AutoImageProcessor.from_pretrained(path, **image_kwargs)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: no image processor and tokenizer to build a processor from ({exc})") from None
    return image_only_processor(image, tokenizer, _chat_template(Path(path), tokenizer))
