"""SAM 3 (Segment Anything with Concepts) through ``transformers`` — the full-tier detector.

Open vocabulary: every concept is a text prompt. One pass per frame: the image is encoded
once and the prompts are decoded together in batches (the vision features are shared), so
watching five concepts costs little more than watching one.

SAM 3 separates *whether* a concept is in the image (a presence token) from *where* its
instances are; a prompt whose presence score is under the threshold yields nothing at
all, which keeps "red car" from boxing the nearest blob in an empty street. Each kept
instance has a mask; its box is the mask's tight box (more exact than the regressed box),
falling back to the regressed box when the mask is empty.

Weights load with ``from_pretrained`` (default ``facebook/sam3``; ``perception.detect.model``
overrides it) and need ``pip install 'scenewatch[hf]'``. Pre- and post-processing are done
here, the way ``Sam3Processor`` does them (stretch to the model's square input, scale to
[-1, 1], sigmoid scores × presence, bilinear mask upsampling), because the transformers
image processor for SAM 3 imports torchvision, which has no build matching every torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.perception.detect.boxes import mask_to_box, nms
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.types import Detections, Frame

log = logging.getLogger(__name__)

DEFAULT_MODEL = "facebook/sam3"
INSTALL_HINT = "pip install 'scenewatch[hf]'"
MAX_INSTANCES_PER_PROMPT = 20



def sam3_pixels(image: NDArray[np.uint8], size: int) -> NDArray[np.float32]:
    """SAM 3 input pixels: ``H×W×3`` RGB stretched to ``size×size``, scaled to [-1, 1], as ``3×S×S``.

    Written here (not transformers' image processor) because that processor needs torchvision.
    """
    from PIL import Image

    resized = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
    x = (np.asarray(resized, np.float32) / 255.0 - 0.5) / 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1))

class Sam3Detector:
    """Text-prompted concept segmentation with SAM 3.

    Args:
        settings: thresholds; ``settings.model`` picks the checkpoint.
        model: an already built ``Sam3Model`` (tests pass a tiny random one).
        tokenizer: the matching text tokenizer (CLIP's for the released checkpoint).
        presence_threshold: a prompt's presence score must reach this for any instance to count.
        mask_threshold: probability at which mask logits become mask pixels.
        prompts_per_pass: prompts decoded together against one image encoding.
        device: torch device (default: CUDA when available, else CPU).
    """

    name = "sam3"
    vocabulary: tuple[str, ...] | None = None

    def __init__(self, settings: DetectSettings | None = None, model: Any = None, tokenizer: Any = None,
                 presence_threshold: float = 0.5, mask_threshold: float = 0.5, prompts_per_pass: int = 8,
                 device: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoTokenizer, Sam3Model
        except ImportError as exc:
            raise BackendUnavailable(f"the sam3 detector needs torch and transformers>=5: {INSTALL_HINT}") from exc
        self.settings = settings or DetectSettings()
        self.presence_threshold = presence_threshold
        self.mask_threshold = mask_threshold
        self.prompts_per_pass = max(1, prompts_per_pass)
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if model is None or tokenizer is None:
            model_id = self.settings.model or DEFAULT_MODEL
            try:
                model = Sam3Model.from_pretrained(model_id)
                tokenizer = AutoTokenizer.from_pretrained(model_id)
            except (OSError, ValueError) as exc:
                raise BackendUnavailable(f"cannot load SAM 3 weights {model_id!r} ({str(exc).splitlines()[0]}); "
                                         "set perception.detect.model to a local checkpoint") from exc
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        size = model.config.vision_config.image_size
        self.input_size = int(size if isinstance(size, int) else size[0])

    def preprocess(self, image: NDArray[np.uint8]) -> Any:
        """``H×W×3`` RGB → ``1×3×S×S`` float tensor, stretched to the model's input and scaled to [-1, 1]."""
        return self._torch.from_numpy(sam3_pixels(image, self.input_size)[None]).to(self.device)

    def detect(self, frame: Frame, concepts: Sequence[str]) -> Detections:
        """Masks and boxes of every prompt present in ``frame``; labels and concepts are the prompts."""
        prompts = list(dict.fromkeys(c.strip() for c in concepts if c and c.strip()))
        if not prompts:
            raise ScenewatchError("no concepts to detect: give at least one text prompt")
        if len(prompts) > self.settings.max_concepts:
            raise ScenewatchError(f"{len(prompts)} prompts; at most {self.settings.max_concepts} per frame")
        torch = self._torch
        h, w = frame.height, frame.width
        if h == 0 or w == 0:
            return Detections.empty()
        boxes: list[NDArray[np.float32]] = []
        scores: list[float] = []
        labels: list[str] = []
        masks: list[NDArray[np.bool_]] = []
        with torch.inference_mode():
            vision = self.model.get_vision_features(pixel_values=self.preprocess(frame.image))
            for start in range(0, len(prompts), self.prompts_per_pass):
                chunk = prompts[start:start + self.prompts_per_pass]
                found = self._decode(vision, chunk, (h, w))
                for prompt, (b, s, m) in zip(chunk, found, strict=True):
                    boxes.extend(b)
                    scores.extend(s)
                    masks.extend(m)
                    labels.extend([prompt] * len(s))
        if not labels:
            empty = Detections.empty()
            return Detections(empty.xyxy, empty.scores, (), masks=np.zeros((0, h, w), bool), concepts=())
        xyxy = np.stack(boxes).astype(np.float32)
        conf = np.asarray(scores, np.float32)
        classes = np.array([prompts.index(lab) for lab in labels], np.int64)
        keep = nms(xyxy, conf, 0.7, classes, max_out=len(conf))
        mask_arr = np.stack(masks)[keep]
        names = tuple(labels[i] for i in keep)
        return Detections(xyxy[keep], conf[keep], names, masks=mask_arr, concepts=names)

    def _decode(self, vision: Any, prompts: list[str], size: tuple[int, int]
                ) -> list[tuple[list[NDArray[np.float32]], list[float], list[NDArray[np.bool_]]]]:
        """Decode ``prompts`` against one image's features in a single batched forward pass."""
        torch = self._torch
        k = len(prompts)
        text = self.tokenizer(prompts, return_tensors="pt", padding="max_length", max_length=32, truncation=True)
        shared = type(vision)(**{key: _repeat(val, k) for key, val in vision.items()})
        out = self.model(vision_embeds=shared, input_ids=text["input_ids"].to(self.device),
                         attention_mask=text["attention_mask"].to(self.device))
        presence = torch.sigmoid(out.presence_logits).reshape(k) if out.presence_logits is not None \
            else torch.ones(k)
        scores = torch.sigmoid(out.pred_logits) * presence[:, None]  # instance score = query × presence
        h, w = size
        found: list[tuple[list[NDArray[np.float32]], list[float], list[NDArray[np.bool_]]]] = []
        for i in range(k):
            if float(presence[i]) < self.presence_threshold:  # "is it here at all?" before "where?"
                found.append(([], [], []))
                continue
            s = scores[i].float().cpu().numpy()
            order = [j for j in np.argsort(-s) if s[j] > self.settings.score_threshold][:MAX_INSTANCES_PER_PROMPT]
            if not order:
                found.append(([], [], []))
                continue
            logits = out.pred_masks[i, order].float()[None]
            probs = torch.nn.functional.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[0]
            masks = (torch.sigmoid(probs) > self.mask_threshold).cpu().numpy()
            regressed = out.pred_boxes[i, order].float().cpu().numpy() * np.array([w, h, w, h], np.float32)
            boxes = []
            for mask, fallback in zip(masks, regressed, strict=True):
                box = mask_to_box(mask)  # mask → box: tighter than the regressed box
                if box[2] <= box[0] or box[3] <= box[1]:
                    box = np.clip(fallback, 0, [w, h, w, h]).astype(np.float32)
                boxes.append(box)
            found.append((boxes, [float(s[j]) for j in order], list(masks)))
        return found


def _repeat(value: Any, k: int) -> Any:
    """Repeat batch-1 tensors (or tuples of them) ``k`` times along the batch axis."""
    if value is None:
        return None
    if isinstance(value, tuple | list):
        return type(value)(_repeat(v, k) for v in value)
    if hasattr(value, "expand") and getattr(value, "ndim", 0) >= 1 and value.shape[0] == 1:
        return value.expand(k, *value.shape[1:])
    return value
