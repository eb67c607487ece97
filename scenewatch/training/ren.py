"""Region tokens (the REN approach): a region of a frame becomes a token the language model can read.

A SigLIP-style vision encoder turns the frame into a grid of patch features; the region (a box, or a
SAM mask) pools them, weighting each patch by how much of it the region covers; a small projector
(LayerNorm → Linear → GELU → Linear) maps the pooled feature into the language model's embedding space,
and that vector replaces the ``<region>`` placeholder in a prompt such as "What is <region>?". Only
the projector trains; the encoder and the language model stay frozen. Training pairs come from the
``regions`` of an exported dataset (frame time, box, label).

The encoder is any ``transformers`` vision model with a fixed square input that returns
``last_hidden_state`` of ``(size / patch)²`` patch tokens: SigLIP, and SigLIP 2's fixed-resolution
checkpoints, which load with the SigLIP classes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ConfigError
from scenewatch.training.dataset import read_records

REGION_TOKEN = "<region>"
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class RegionExample:
    """A frame, a region of it and what the region is."""

    image: NDArray[np.uint8]
    box: Box
    label: str
    mask: NDArray[np.bool_] | None = None


def coverage(box: Box | None, width: int, height: int, grid: int, mask: NDArray[np.bool_] | None = None
             ) -> NDArray[np.float32]:
    """Share of each of ``grid × grid`` patches covered by the region (a mask wins over a box)."""
    if mask is not None:
        ys = np.linspace(0, mask.shape[0], grid + 1).astype(int)
        xs = np.linspace(0, mask.shape[1], grid + 1).astype(int)
        out = np.zeros((grid, grid), np.float32)
        for i in range(grid):
            for j in range(grid):
                cell = mask[ys[i]:max(ys[i + 1], ys[i] + 1), xs[j]:max(xs[j + 1], xs[j] + 1)]
                out[i, j] = float(cell.mean()) if cell.size else 0.0
        return out
    assert box is not None
    edges = np.linspace(0.0, 1.0, grid + 1)
    x1, y1, x2, y2 = box[0] / width, box[1] / height, box[2] / width, box[3] / height
    wx = np.clip(np.minimum(edges[1:], x2) - np.maximum(edges[:-1], x1), 0, None) * grid
    wy = np.clip(np.minimum(edges[1:], y2) - np.maximum(edges[:-1], y1), 0, None) * grid
    return np.outer(wy, wx).astype(np.float32)


class RegionEncoder:
    """Patch-feature grids of frames from a frozen SigLIP-style vision model.

    Args:
        vision_model: returns ``last_hidden_state`` ``[1, grid², dim]`` for ``pixel_values`` ``[1, 3, size, size]``.
        image_size: the model's square input size.
        patch_size: pixels per patch side.
        mean: per-channel normalisation mean (SigLIP: 0.5).
        std: per-channel normalisation std (SigLIP: 0.5).
    """

    def __init__(self, vision_model: Any, image_size: int, patch_size: int,
                 mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5)) -> None:
        self.model = vision_model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.size, self.grid = image_size, image_size // patch_size
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.dim = int(vision_model.config.hidden_size)

    @classmethod
    def from_pretrained(cls, path: str) -> RegionEncoder:
        """A SigLIP / SigLIP 2 (fixed-resolution) vision tower from a local directory."""
        try:
            import transformers
        except ImportError:
            raise BackendUnavailable("region tokens need torch and transformers: pip install 'scenewatch[train]'"
                                     ) from None
        model = transformers.SiglipVisionModel.from_pretrained(path)
        cfg: Any = model.config
        return cls(model, int(cfg.image_size), int(cfg.patch_size))

    def features(self, image: NDArray[np.uint8]) -> Any:
        """``[grid, grid, dim]`` patch features of an RGB frame."""
        import torch
        from PIL import Image

        pil = Image.fromarray(image).resize((self.size, self.size), Image.Resampling.BICUBIC)
        x = (np.asarray(pil, np.float32) / 255.0 - self.mean) / self.std
        pixels = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
        device = next(self.model.parameters()).device
        with torch.no_grad():
            hidden = self.model(pixel_values=pixels.to(device)).last_hidden_state[0]
        return hidden[: self.grid * self.grid].reshape(self.grid, self.grid, -1)

    def pool(self, image: NDArray[np.uint8], box: Box | None, mask: NDArray[np.bool_] | None = None) -> Any:
        """The region's feature: patch features averaged by coverage (the nearest patch if it covers none)."""
        import torch

        feats = self.features(image)
        h, w = image.shape[:2]
        weights = torch.from_numpy(coverage(box, w, h, self.grid, mask)).to(feats.dtype).to(feats.device)
        if float(weights.sum()) <= 0:
            assert box is not None
            cy = min(self.grid - 1, int((box[1] + box[3]) / 2 / h * self.grid))
            cx = min(self.grid - 1, int((box[0] + box[2]) / 2 / w * self.grid))
            return feats[cy, cx]
        return (feats * weights[..., None]).sum((0, 1)) / weights.sum()


def build_projector(vision_dim: int, lm_dim: int, hidden: int | None = None) -> Any:
    """The region projector: ``[n, vision_dim] → [n, lm_dim]``."""
    import torch

    hidden = hidden or max(vision_dim, lm_dim)
    return torch.nn.Sequential(torch.nn.LayerNorm(vision_dim), torch.nn.Linear(vision_dim, hidden),
                               torch.nn.GELU(), torch.nn.Linear(hidden, lm_dim))


def region_token_id(processor: Any, model: Any) -> int:
    """The id of ``<region>``, added to the tokenizer (and the embeddings resized) when missing."""
    tok = processor.tokenizer
    tid = tok.convert_tokens_to_ids(REGION_TOKEN)
    if tid is None or tid == tok.unk_token_id:
        tok.add_special_tokens({"additional_special_tokens": [REGION_TOKEN]})
        tid = tok.convert_tokens_to_ids(REGION_TOKEN)
    # Qwen's embedding table is padded past the tokenizer (151,936 rows for 151,665 tokens): grow it only
    # when the new id falls outside, never shrink it to the tokenizer's length.
    if int(tid) >= int(model.get_input_embeddings().weight.shape[0]):
        model.resize_token_embeddings(len(tok))
    return int(tid)


def place_regions(embeds: Any, ids: Any, token_id: int, regions: Any) -> Any:
    """Token embeddings ``[b, n, d]`` with the ``<region>`` positions of ``ids`` replaced by ``regions`` ``[k, d]``.

    The ``k`` region vectors fill the placeholders in reading order. Training and the full-tier
    reasoner both insert region tokens through this function.

    Raises:
        ValueError: the prompt holds a different number of ``<region>`` placeholders than vectors.
    """
    where = ids == token_id
    if int(where.sum()) != int(regions.shape[0]):
        raise ValueError(f"the prompt has {int(where.sum())} {REGION_TOKEN} placeholder(s) for "
                         f"{int(regions.shape[0])} region(s)")
    embeds = embeds.clone()
    embeds[where] = regions.to(device=embeds.device, dtype=embeds.dtype)
    return embeds


@contextmanager
def regions_inserted(model: Any, token_id: int, regions: Any) -> Iterator[None]:
    """Within the block, the model's first embedding of a prompt carries ``regions`` at its ``<region>`` tokens.

    A forward hook on the input embeddings applies :func:`place_regions` to the prompt (the first call
    that holds all the placeholders), so ``generate`` with ``input_ids`` and images works unchanged; the
    tokens generated afterwards are embedded as usual.
    """
    layer = model.get_input_embeddings()
    done = False

    def hook(_module: Any, args: tuple[Any, ...], output: Any) -> Any:
        nonlocal done
        ids = args[0] if args else None
        if done or ids is None or int((ids == token_id).sum()) != int(regions.shape[0]):
            return output
        done = True
        return place_regions(output, ids, token_id, regions)

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
    if not done:
        raise ValueError(f"the prompt never showed its {int(regions.shape[0])} {REGION_TOKEN} placeholder(s) "
                         "to the model")


def _prompt_ids(processor: Any, question: str) -> Any:
    chat = [{"role": "user", "content": [{"type": "text", "text": question}]}]
    text = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return processor.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]


def _embeds(model: Any, ids: Any, token_id: int, region: Any) -> Any:
    return place_regions(model.get_input_embeddings()(ids), ids, token_id, region)


def region_loss(model: Any, processor: Any, token_id: int, region: Any, label: str,
                question: str = f"What is {REGION_TOKEN}?") -> Any:
    """Answer-token loss of ``label`` for a region embedding ``[lm_dim]``."""
    import torch

    tok = processor.tokenizer
    prompt = _prompt_ids(processor, question)
    answer = tok(label + (tok.eos_token or ""), add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = torch.cat([prompt, answer], dim=1).to(region.device)
    labels = ids.clone()
    labels[:, : prompt.shape[1]] = -100
    embeds = _embeds(model, ids, token_id, region[None])
    return model(inputs_embeds=embeds, attention_mask=torch.ones_like(ids), labels=labels).loss


def answer_region(model: Any, processor: Any, token_id: int, region: Any, max_new_tokens: int = 6,
                  question: str = f"What is {REGION_TOKEN}?") -> str:
    """Greedy answer to ``question`` with the region embedding in place of ``<region>``."""
    import torch

    tok = processor.tokenizer
    ids = _prompt_ids(processor, question).to(region.device)
    embeds = _embeds(model, ids, token_id, region[None])
    out: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long,
                                                                            device=embeds.device)).logits
            nxt = int(logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            out.append(nxt)
            step = model.get_input_embeddings()(torch.tensor([[nxt]], device=embeds.device))
            embeds = torch.cat([embeds, step], dim=1)
    return str(tok.decode(out, skip_special_tokens=True)).strip()


def region_examples(path: Path) -> list[RegionExample]:
    """Frames, boxes and labels from the ``regions`` of an exported dataset (one per distinct region)."""
    import av

    out: list[RegionExample] = []
    seen: set[tuple[str, float, tuple[float, ...]]] = set()
    for _, rec, _ in read_records(Path(path)):
        if rec is None:
            continue
        for region in rec.get("regions") or []:
            key = (str(rec["video"]), round(float(region["time"]), 2), tuple(region["box"]))
            if key in seen:
                continue
            seen.add(key)
            clip = Path(rec["video"]) if Path(rec["video"]).is_absolute() else Path(path).parent / rec["video"]
            with av.open(str(clip)) as c:
                frames = [(abs(float(f.time or 0) - region["time"]), f) for f in c.decode(video=0)]
            frame = np.asarray(min(frames, key=lambda p: p[0])[1].to_ndarray(format="rgb24"), dtype=np.uint8)
            x1, y1, x2, y2 = (float(v) for v in region["box"])
            out.append(RegionExample(frame, (x1, y1, x2, y2), str(region["label"])))
    return out


@dataclass
class RegionTraining:
    """The trained projector and its loss curve."""

    projector: Any
    token_id: int
    losses: list[float]


def train_regions(model: Any, processor: Any, encoder: RegionEncoder, examples: Sequence[RegionExample],
                  steps: int = 100, lr: float = 1e-3, seed: int = 0, batch_size: int = 8) -> RegionTraining:
    """Train a projector so that "What is <region>?" is answered with each example's label.

    The language model and the encoder are frozen; features are pooled once per example.
    """
    import torch

    if not examples:
        raise ValueError("no regions to train on (export boxes first)")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    token_id = region_token_id(processor, model)
    for p in model.parameters():
        p.requires_grad_(False)
    lm_dim = int(model.get_input_embeddings().weight.shape[1])
    device = next(model.parameters()).device
    projector = build_projector(encoder.dim, lm_dim).to(device)
    feats = [encoder.pool(ex.image, ex.box, ex.mask).to(device) for ex in examples]
    optimizer = torch.optim.AdamW(projector.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        batch = rng.sample(range(len(examples)), min(batch_size, len(examples)))
        loss = sum(region_loss(model, processor, token_id, projector(feats[i][None])[0], examples[i].label)
                   for i in batch) / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return RegionTraining(projector.eval(), token_id, losses)


def save_projector(projector: Any, out: Path, encoder: str | Path | None = None) -> Path:
    """Write the projector (``region_projector.safetensors`` + its shape in ``region_projector.json``).

    Args:
        projector: from :func:`train_regions`.
        out: folder (the adapter's).
        encoder: the vision model directory it was trained on, recorded so the reasoner can load both.
    """
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in projector.state_dict().items()}, str(out / "region_projector.safetensors"))
    first, last = projector[1], projector[3]
    shape: dict[str, Any] = {"vision_dim": first.in_features, "hidden": first.out_features, "lm_dim": last.out_features}
    if encoder is not None:
        shape["encoder"] = str(Path(encoder).resolve())
    (out / "region_projector.json").write_text(json.dumps(shape) + "\n")
    return out / "region_projector.safetensors"


def load_projector(folder: Path) -> Any:
    """A projector saved by :func:`save_projector`."""
    from safetensors.torch import load_file

    shape = json.loads((folder / "region_projector.json").read_text())
    projector = build_projector(shape["vision_dim"], shape["lm_dim"], shape["hidden"])
    projector.load_state_dict(load_file(str(folder / "region_projector.safetensors")))
    return projector.eval()


@dataclass(frozen=True)
class Region:
    """A region of a frame to ask about: a box in frame pixels (or a mask) on an RGB frame."""

    image: NDArray[np.uint8]
    box: Box | None
    mask: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"a region's frame must be H×W×3 RGB, not {self.image.shape}")
        if self.box is None and self.mask is None:
            raise ValueError("a region needs a box or a mask")
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            h, w = self.image.shape[:2]
            if not (0 <= x1 < x2 <= w + 1 and 0 <= y1 < y2 <= h + 1):
                raise ValueError(f"box {self.box} is not inside the {w}x{h} frame")


@dataclass
class RegionTokens:
    """A trained projector with its encoder: regions of frames → embeddings for ``<region>`` tokens."""

    projector: Any
    encoder: RegionEncoder
    token_id: int

    def vectors(self, regions: Sequence[Region]) -> Any:
        """``[k, lm_dim]`` embeddings of the regions (pooled encoder features through the projector)."""
        import torch

        with torch.no_grad():
            pooled = torch.stack([self.encoder.pool(r.image, r.box, r.mask) for r in regions])
            device = next(self.projector.parameters()).device
            return self.projector(pooled.to(device=device, dtype=next(self.projector.parameters()).dtype))


def load_region_tokens(folder: Path, model: Any, processor: Any, encoder: RegionEncoder | None = None
                       ) -> RegionTokens:
    """The projector in ``folder`` with its encoder (the one recorded at training unless given), on ``model``'s device.

    Raises:
        ConfigError: no projector in the folder, or no encoder recorded and none given.
    """
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    meta = folder / "region_projector.json"
    if not meta.is_file():
        raise ConfigError(f"no region projector in {folder} (train one with `scenewatch train lora --region-tokens`)")
    if encoder is None:
        recorded = json.loads(meta.read_text()).get("encoder")
        if not recorded:
            raise ConfigError(f"{meta} does not record its vision encoder; retrain with --region-tokens")
        encoder = RegionEncoder.from_pretrained(str(recorded))
    device = next(model.parameters()).device
    encoder.model.to(device)
    token_id = region_token_id(processor, model)
    return RegionTokens(load_projector(folder).to(device), encoder, token_id)
