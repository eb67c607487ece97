"""SigLIP 2 image, text and region embeddings through ``transformers`` (full tier).

SigLIP 2 is a sigmoid image–text model: an image and a caption that match have a high dot
product of their L2-normalised embeddings. The NaFlex variant keeps each image's native
aspect ratio: the image is resized so that its ``h×w`` patch grid fits ``max_num_patches``
(``get_image_size_for_max_num_patches``), patchified, and padded in the patch dimension.
Preprocessing is done here, in numpy, mirroring ``Siglip2ImageProcessor``, because region
pooling needs to know exactly which pixels each patch saw.

Region embeddings, REN-style: the vision encoder runs once per image; each region (box or
mask) becomes a weight per patch — the fraction of the patch it covers — and the patch
features are pooled under those weights:

* ``attention`` (default): SigLIP's own attention-pooling head with ``log(weight)`` added to
  its attention logits, i.e. the image embedding's probe attending only to the region (soft at
  the borders). The vector lands in the image–text space, so a region matches a caption; a
  box over the whole image gives exactly the image embedding.
* ``mean``: the coverage-weighted mean of patch features, then a small trainable
  :func:`region_projector` (LayerNorm + Linear) into the embedding space.

Preprocess (resize, patchify) → forward (vision/text towers) → postprocess (pool, normalise).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ScenewatchError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "google/siglip2-base-patch16-naflex"
INSTALL_HINT = "pip install 'scenewatch[hf]'"
TEXT_MAX_LENGTH = 64  # SigLIP text towers are trained on max_length-padded 64-token inputs

Pooling = Literal["attention", "mean"]


def _torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise BackendUnavailable(f"the SigLIP 2 embedder needs torch and transformers: {INSTALL_HINT}") from None
    return torch


# --------------------------------------------------------------------------- preprocessing
def size_for_max_patches(height: int, width: int, patch_size: int, max_num_patches: int,
                         eps: float = 1e-5) -> tuple[int, int]:
    """Resize target ``(h, w)``: multiples of ``patch_size``, aspect ratio kept, ≤ ``max_num_patches`` patches.

    The same binary search over the scale as ``transformers``' NaFlex image processor.
    """
    def scaled(scale: float, size: int) -> int:
        return max(patch_size, int(math.ceil(size * scale / patch_size) * patch_size))

    lo, hi = eps / 10, 100.0
    while hi - lo >= eps:
        mid = (lo + hi) / 2
        if (scaled(mid, height) / patch_size) * (scaled(mid, width) / patch_size) <= max_num_patches:
            lo = mid
        else:
            hi = mid
    return scaled(lo, height), scaled(lo, width)


def patchify(image: NDArray[np.uint8], patch_size: int, max_num_patches: int
             ) -> tuple[NDArray[np.float32], NDArray[np.int32], tuple[int, int]]:
    """One RGB image → ``(patches max_num_patches×(p·p·3), mask, (rows, cols))`` for the NaFlex tower.

    Bilinear resize to the NaFlex size, ``x/255`` normalised to [-1, 1], patches in row-major
    order with each patch flattened as ``(p, p, channel)``, zero-padded to ``max_num_patches``.
    """
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ScenewatchError(f"image must be HxWx3 uint8 RGB, got {image.shape} {image.dtype}")
    h, w = size_for_max_patches(image.shape[0], image.shape[1], patch_size, max_num_patches)
    resized = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR), np.float32)
    pixels = (resized / 255.0 - 0.5) / 0.5
    rows, cols = h // patch_size, w // patch_size
    patches = pixels.reshape(rows, patch_size, cols, patch_size, 3).transpose(0, 2, 1, 3, 4).reshape(rows * cols, -1)
    padded = np.zeros((max_num_patches, patches.shape[1]), np.float32)
    padded[: rows * cols] = patches
    mask = np.zeros(max_num_patches, np.int32)
    mask[: rows * cols] = 1
    return padded, mask, (rows, cols)


def box_weights(box: Sequence[float], image_hw: tuple[int, int], grid: tuple[int, int]) -> NDArray[np.float32]:
    """Fraction of each patch (``rows×cols``) covered by an ``[x1, y1, x2, y2]`` pixel box."""
    (height, width), (rows, cols) = image_hw, grid
    x1, y1, x2, y2 = (float(v) for v in box)

    def cover(lo: float, hi: float, size: int, n: int) -> NDArray[np.float64]:
        edges = np.arange(n + 1) * (size / n)
        overlap = np.clip(np.minimum(hi, edges[1:]) - np.maximum(lo, edges[:-1]), 0.0, None)
        return overlap / (size / n)

    return np.outer(cover(y1, y2, height, rows), cover(x1, x2, width, cols)).astype(np.float32)


def mask_weights(mask: NDArray[np.bool_], grid: tuple[int, int]) -> NDArray[np.float32]:
    """Fraction of each patch (``rows×cols``) covered by a pixel mask (area average)."""
    from PIL import Image

    rows, cols = grid
    img = Image.fromarray(mask.astype(np.float32), mode="F")
    return np.clip(np.asarray(img.resize((cols, rows), Image.Resampling.BOX), np.float32), 0.0, 1.0)


# --------------------------------------------------------------------------- projector
def region_projector(hidden_size: int, dim: int) -> Any:
    """A small trainable ``torch.nn.Module`` (LayerNorm + Linear) for ``mean`` region pooling.

    It maps the coverage-weighted mean of patch features into the image–text space; train it
    (e.g. against the attention-pooled or caption embeddings of crops), then pass it in.
    """
    torch = _torch()
    return torch.nn.Sequential(torch.nn.LayerNorm(hidden_size), torch.nn.Linear(hidden_size, dim))


# --------------------------------------------------------------------------- embedder
class SigLIP2Embedder:
    """SigLIP 2 image / text / region embedder (NaFlex, native aspect ratio).

    Args:
        model: Hugging Face model id or local directory (a ``Siglip2Model`` checkpoint).
        batch_size: images or texts per forward pass.
        device: torch device (default: CUDA if available, else CPU).
        max_num_patches: patch budget per image (256 ≈ 256×256 pixels at patch 16).
        pooling: region pooling, ``"attention"`` or ``"mean"`` (needs ``projector``).
        projector: a trained :func:`region_projector` (module or path to its ``state_dict``).

    Raises:
        BackendUnavailable: torch/transformers are not installed.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        batch_size: int = 8,
        *,
        device: str | None = None,
        max_num_patches: int = 256,
        pooling: Pooling = "attention",
        projector: Any = None,
    ) -> None:
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer

        net = AutoModel.from_pretrained(str(model))
        tokenizer = AutoTokenizer.from_pretrained(str(model))
        self._setup(net, tokenizer, str(model), batch_size, device or ("cuda" if torch.cuda.is_available() else "cpu"),
                    max_num_patches, pooling, projector)

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "siglip2-custom",
        batch_size: int = 8,
        device: str = "cpu",
        max_num_patches: int = 256,
        pooling: Pooling = "attention",
        projector: Any = None,
    ) -> SigLIP2Embedder:
        """Wrap an already built ``Siglip2Model`` and tokenizer (tests use a tiny random config)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, name, batch_size, device, max_num_patches, pooling, projector)
        return self

    def _setup(self, model: Any, tokenizer: Any, name: str, batch_size: int, device: str,
               max_num_patches: int, pooling: Pooling, projector: Any) -> None:
        torch = _torch()
        if pooling not in ("attention", "mean"):
            raise ScenewatchError(f"region pooling must be 'attention' or 'mean', got {pooling!r}")
        vision = model.config.vision_config
        if max_num_patches > vision.num_patches * 16:
            log.warning("max_num_patches %d is far beyond the %d position embeddings", max_num_patches,
                        vision.num_patches)
        self._torch = torch
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.model_name = name
        self.dim = int(vision.hidden_size)
        self.batch_size = max(1, int(batch_size))
        self.patch_size = int(vision.patch_size)
        self.max_num_patches = int(max_num_patches)
        self.pooling: Pooling = pooling
        self.text_max_length = min(TEXT_MAX_LENGTH, int(model.config.text_config.max_position_embeddings))
        if isinstance(projector, str | Path):
            module = region_projector(int(vision.hidden_size), self.dim)
            module.load_state_dict(torch.load(projector, map_location="cpu"))
            projector = module
        if pooling == "mean" and projector is None:
            raise ScenewatchError("mean region pooling needs a trained projector (or use pooling='attention')")
        self.projector = None if projector is None else projector.to(device).eval()

    # ------------------------------------------------------------------ texts
    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``N×dim`` unit vectors for texts (padded to 64 tokens, as SigLIP was trained)."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a list of strings, not one string")
        out = np.zeros((len(texts), self.dim), np.float32)
        torch = self._torch
        for s in range(0, len(texts), self.batch_size):
            chunk = [str(t).lower() for t in texts[s:s + self.batch_size]]
            tokens = self.tokenizer(chunk, padding="max_length", truncation=True, max_length=self.text_max_length,
                                    return_tensors="pt")
            with torch.inference_mode():
                pooled = self.model.text_model(input_ids=tokens["input_ids"].to(self.device)).pooler_output
            out[s:s + len(chunk)] = _normalise(pooled.float().cpu().numpy())
        return out

    # ----------------------------------------------------------------- images
    def _encode(self, images: Sequence[NDArray[np.uint8]]) -> tuple[Any, Any, list[tuple[int, int]]]:
        """Vision tower over a batch: ``(last_hidden_state, pixel mask, grids)``."""
        torch = self._torch
        batch = [patchify(img, self.patch_size, self.max_num_patches) for img in images]
        pixels = torch.from_numpy(np.stack([b[0] for b in batch])).to(self.device)
        mask = torch.from_numpy(np.stack([b[1] for b in batch])).to(self.device)
        grids = [b[2] for b in batch]
        shapes = torch.tensor(grids, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model.vision_model(pixel_values=pixels, pixel_attention_mask=mask, spatial_shapes=shapes)
        return out, mask, grids

    def embed_images(self, images: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """``N×dim`` unit vectors for ``H×W×3`` uint8 RGB images of any aspect ratio."""
        out = np.zeros((len(images), self.dim), np.float32)
        for s in range(0, len(images), self.batch_size):
            encoded, _, _ = self._encode(images[s:s + self.batch_size])
            out[s:s + encoded.pooler_output.shape[0]] = _normalise(encoded.pooler_output.float().cpu().numpy())
        return out

    # ---------------------------------------------------------------- regions
    def region_weights(self, image_hw: tuple[int, int], regions: NDArray[Any]) -> NDArray[np.float32]:
        """Per-patch coverage ``R×max_num_patches`` of boxes (``R×4`` xyxy) or masks (``R×H×W``)."""
        h, w = size_for_max_patches(image_hw[0], image_hw[1], self.patch_size, self.max_num_patches)
        grid = (h // self.patch_size, w // self.patch_size)
        regions = np.asarray(regions)
        if regions.ndim == 2 and regions.shape[1] == 4:
            maps = [box_weights(b, image_hw, grid) for b in regions]
        elif regions.ndim == 3 and regions.shape[1:] == image_hw:
            maps = [mask_weights(m.astype(bool), grid) for m in regions]
        else:
            raise ScenewatchError(
                f"regions must be Rx4 boxes or RxHxW masks matching the {image_hw} image, got {regions.shape}")
        weights = np.zeros((len(maps), self.max_num_patches), np.float32)
        for i, m in enumerate(maps):
            weights[i, : m.size] = m.reshape(-1)
            if weights[i].sum() <= 0:
                raise ScenewatchError(f"region {i} covers no pixels of the {image_hw[1]}x{image_hw[0]} image")
        return weights

    def embed_regions(self, image: NDArray[np.uint8], masks_or_boxes: NDArray[Any]) -> NDArray[np.float32]:
        """One unit vector per region of one image, pooled from a single vision pass.

        Args:
            image: ``H×W×3`` uint8 RGB.
            masks_or_boxes: ``R×4`` float pixel boxes ``[x1, y1, x2, y2]`` or ``R×H×W`` bool masks.

        Returns:
            ``R×dim`` float32; with ``attention`` pooling, comparable to text and image vectors.
        """
        weights = self.region_weights(image.shape[:2], masks_or_boxes)
        if not len(weights):
            return np.zeros((0, self.dim), np.float32)
        encoded, _, _ = self._encode([image])
        hidden = encoded.last_hidden_state  # 1×P×D, after post-layernorm
        pooled = self.pool(hidden, weights)
        return _normalise(pooled)

    def pool(self, hidden: Any, weights: NDArray[np.float32]) -> NDArray[np.float32]:
        """Pool one image's patch features ``1×P×D`` under ``R×P`` coverage weights (unnormalised)."""
        torch = self._torch
        w = torch.from_numpy(weights).to(hidden.device, hidden.dtype)
        with torch.inference_mode():
            if self.pooling == "mean":
                assert self.projector is not None
                mean = (w @ hidden[0]) / w.sum(-1, keepdim=True)
                return np.asarray(self.projector(mean).float().cpu().numpy(), np.float32)
            return np.asarray(attention_pool(self.model.vision_model.head, hidden[0], w).float().cpu().numpy(),
                              np.float32)


def attention_pool(head: Any, hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """SigLIP's attention-pooling head with soft per-patch weights (``R×P``) on one image's ``P×D`` features.

    Adds ``log(weight)`` to the attention logits, so ``softmax`` gives each patch
    ``weight·exp(q·k)`` — patches outside the region get no attention, partially covered ones less.
    """
    import torch

    regions = weights.shape[0]
    keys = hidden.unsqueeze(0).expand(regions, -1, -1)
    probe = head.probe.expand(regions, -1, -1)
    bias = torch.where(weights > 0, weights.clamp_min(1e-12).log(), torch.finfo(hidden.dtype).min)
    bias = bias[:, None, None, :].expand(regions, head.num_heads, 1, -1).reshape(regions * head.num_heads, 1, -1)
    x = head.attention(probe, keys, keys, attn_mask=bias)[0]
    x = x + head.mlp(head.layernorm(x))
    return x[:, 0]


def _normalise(x: NDArray[Any]) -> NDArray[np.float32]:
    x = np.asarray(x, np.float32)
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
