"""LoRA / QLoRA fine-tuning of a ``transformers`` vision-language model on an exported dataset.

The vision tower stays frozen; LoRA adapters go on the language model's attention and MLP projections
(``q/k/v/o_proj``, ``gate/up/down_proj``) unless ``target`` says otherwise. QLoRA loads the base in
4-bit NF4 with bitsandbytes, which needs a CUDA GPU; asking for it without one is an error, not a
silent fallback. When ``unsloth`` is installed and a CUDA GPU is present, the base is loaded and
wrapped through Unsloth's ``FastVisionModel`` instead (same adapters, less memory); otherwise
``transformers`` + ``peft``.

Each clip is shown as ``frames`` images sampled evenly over it, each preceded by its clip time
(``0.0s:``), because answers name clip times; this also avoids the video processor (which needs
torchvision). Only the answer tokens carry loss. One record is one step of batch size 1; ``grad_accum``
sums several. Checkpoints (adapter, optimizer, step, RNG) are written every ``save_every`` steps under
``out/checkpoints`` and a run resumes from the newest one.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from scenewatch._settings_base import Section
from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.training.dataset import read_records
from scenewatch.training.formats import VIDEO_TAG, turns
from scenewatch.training.processor import load_processor

log = logging.getLogger(__name__)

LM_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Module paths of vision/audio towers in transformers VL models (Qwen2-VL ``visual``, LLaVA ``vision_tower``,
# ``multi_modal_projector``); LoRA never goes there by default.
_TOWER = r"(visual|vision|image|audio|multi_modal_projector|merger)"


class TrainingError(ScenewatchError):
    """Training cannot run as asked (no data, QLoRA without CUDA, a bad checkpoint)."""


class TrainSettings(Section):
    """What ``scenewatch train lora`` does."""

    data: Path = Field(..., description="exported dataset (JSONL)")
    base: str = Field(..., description="base model directory (transformers format)")
    out: Path = Field(Path("adapter"), description="adapter output folder")
    qlora: bool = Field(False, description="load the base in 4-bit NF4 (bitsandbytes, CUDA only)")
    rank: int = Field(16, ge=1, le=512)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target: Literal["language", "all"] = Field("language", description="LoRA on the language model or everywhere")
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    lr: float = Field(2e-4, gt=0)
    grad_accum: int = Field(1, ge=1)
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="share of clips held out for evaluation")
    eval_every: int = Field(50, ge=1)
    save_every: int = Field(50, ge=1)
    frames: int = Field(4, ge=1, le=64, description="frames sampled per clip")
    max_pixels: int = Field(448 * 448, ge=28 * 28)
    seed: int = 0
    resume: bool = Field(True, description="continue from the newest checkpoint in out/checkpoints")
    gradient_checkpointing: bool = Field(True, description="trade compute for memory (CUDA only)")
    unsloth: bool = Field(True, description="load and wrap with Unsloth when it is installed and a CUDA GPU is present")


@dataclass(frozen=True)
class TrainProgress:
    """One optimizer step."""

    step: int
    total: int
    loss: float
    eval_loss: float | None = None


@dataclass
class TrainResult:
    """What a run did."""

    out: Path
    steps: int
    train_examples: int
    eval_examples: int
    first_loss: float
    last_loss: float
    eval_before: float | None = None
    eval_after: float | None = None
    resumed_from: int = 0
    losses: list[float] = field(default_factory=list)
    model: Any = field(default=None, repr=False, compare=False)  # the trained PeftModel, in this process
    processor: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Example:
    """A record ready for the processor: frames with their clip times, a question and an answer."""

    frames: tuple[NDArray[np.uint8], ...]
    times: tuple[float, ...]
    question: str
    answer: str
    video: str


def lora_target_regex(target: str = "language") -> str:
    """The ``target_modules`` regex: LM projections, skipping vision/audio towers unless ``all``."""
    names = "|".join(LM_PROJECTIONS)
    if target == "all":
        return rf".*\.({names}|qkv|fc1|fc2|proj)$"
    return rf"^(?!.*{_TOWER}).*\.({names})$"


def sample_frames(path: Path, count: int) -> tuple[list[NDArray[np.uint8]], list[float]]:
    """``count`` RGB frames evenly spread over a clip, with their times (seconds from the clip start)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [(float(f.time or 0.0), f) for f in c.decode(v)]
    if not frames:
        raise TrainingError(f"{path}: no frames")
    t0 = frames[0][0]
    picks = sorted({round(i * (len(frames) - 1) / max(1, count - 1)) for i in range(count)}) if count > 1 else [0]
    images = [np.asarray(frames[i][1].to_ndarray(format="rgb24"), dtype=np.uint8) for i in picks]
    return images, [frames[i][0] - t0 for i in picks]


def load_examples(path: Path, frames: int) -> list[Example]:
    """Dataset records as :class:`Example` (frames decoded once per clip)."""
    cache: dict[str, tuple[list[NDArray[np.uint8]], list[float]]] = {}
    out = []
    for n, rec, error in read_records(Path(path)):
        if rec is None:
            raise TrainingError(f"{path} line {n}: {error} (run `scenewatch dataset validate`)")
        pairs = turns(rec)
        if len(pairs) < 2:
            raise TrainingError(f"{path} line {n}: needs a question and an answer")
        video = str(rec["video"])
        if video not in cache:
            p = Path(video) if Path(video).is_absolute() else Path(path).parent / video
            cache[video] = sample_frames(p, frames)
        imgs, times = cache[video]
        out.append(Example(tuple(imgs), tuple(times), pairs[0][1].replace(VIDEO_TAG, "").strip(), pairs[1][1], video))
    if not out:
        raise TrainingError(f"{path}: no records")
    return out


def split_examples(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out whole clips (never a clip in both halves) for evaluation."""
    videos = sorted({e.video for e in examples})
    random.Random(seed).shuffle(videos)
    n_eval = round(len(videos) * fraction) if fraction > 0 else 0
    if fraction > 0 and len(videos) > 1:
        n_eval = max(1, n_eval)
    held = set(videos[:n_eval])
    return [e for e in examples if e.video not in held], [e for e in examples if e.video in held]


def encode_example(processor: Any, example: Example, max_pixels: int) -> dict[str, Any]:
    """Processor inputs with ``labels`` that score only the answer (and the end-of-turn token)."""
    import torch
    from PIL import Image

    content: list[dict[str, Any]] = []
    for t in example.times:
        content += [{"type": "text", "text": f"{t:.1f}s:"}, {"type": "image"}]
    content.append({"type": "text", "text": example.question})
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                           add_generation_prompt=True)
    images = [_fit(Image.fromarray(f), max_pixels) for f in example.frames]
    inputs = processor(text=[prompt], images=images, return_tensors="pt")
    tok = processor.tokenizer
    end = tok.eos_token or ""
    answer_ids = tok(example.answer + end, add_special_tokens=False, return_tensors="pt")["input_ids"]
    prompt_ids = inputs["input_ids"]
    inputs["input_ids"] = torch.cat([prompt_ids, answer_ids], dim=1)
    for key in ("mm_token_type_ids", "token_type_ids"):  # per-token types: answer tokens are text (0)
        if key in inputs:
            inputs[key] = torch.cat([inputs[key], torch.zeros_like(answer_ids)], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    labels = inputs["input_ids"].clone()
    labels[:, : prompt_ids.shape[1]] = -100
    inputs["labels"] = labels
    return dict(inputs)


def _fit(image: Any, max_pixels: int) -> Any:
    w, h = image.size
    if w * h <= max_pixels:
        return image
    s = math.sqrt(max_pixels / (w * h))
    return image.resize((max(28, int(w * s)), max(28, int(h * s))))


def unsloth_loader() -> Any:
    """Unsloth's ``FastVisionModel`` (or, in older releases, ``FastLanguageModel``) when it can be used here.

    Unsloth patches ``transformers`` for faster, leaner LoRA, but only on a CUDA GPU; without ``unsloth``
    installed, or without CUDA, this is ``None`` and the plain ``transformers`` + ``peft`` path runs.
    """
    import importlib
    import importlib.util

    import torch

    if importlib.util.find_spec("unsloth") is None or not torch.cuda.is_available():
        return None
    try:
        unsloth = importlib.import_module("unsloth")
    except Exception as exc:  # a broken install must not stop training: the plain path still works
        log.warning("unsloth is installed but does not import (%s); using transformers + peft", exc)
        return None
    return getattr(unsloth, "FastVisionModel", None) or getattr(unsloth, "FastLanguageModel", None)


def load_base(base: str, qlora: bool, fast: Any = None) -> tuple[Any, Any]:
    """The base model and processor from a directory (4-bit when ``qlora``).

    Args:
        base: model directory.
        qlora: load the weights in 4-bit NF4.
        fast: Unsloth's loader (:func:`unsloth_loader`); ``None`` loads with ``transformers``.
    """
    try:
        import torch
        import transformers
    except ImportError:
        raise BackendUnavailable("training needs torch, transformers and peft: "
                                 "pip install 'scenewatch[train]'") from None
    if qlora:
        require_cuda_for_qlora()
    if fast is not None:
        model, processor = fast.from_pretrained(base, load_in_4bit=qlora, use_gradient_checkpointing="unsloth")
        log.info("loaded %s with Unsloth (%s)", base, getattr(fast, "__name__", "unsloth"))
        return model, processor
    kwargs: dict[str, Any] = {}
    if qlora:
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": 0}
    kwargs["dtype"] = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = transformers.AutoModelForImageTextToText.from_pretrained(base, **kwargs)
    return model, load_processor(base)


def require_cuda_for_qlora() -> None:
    """Raise a clear error when 4-bit QLoRA cannot run here."""
    import torch

    if not torch.cuda.is_available():
        raise TrainingError("--qlora loads the base in 4-bit with bitsandbytes, which needs a CUDA GPU; none is "
                            "visible here. Train plain LoRA (drop --qlora) or run on a machine with a GPU.")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise BackendUnavailable("--qlora needs bitsandbytes: pip install bitsandbytes") from None


def wrap_lora(model: Any, settings: TrainSettings, fast: Any = None) -> Any:
    """Freeze the base and add LoRA adapters (vision tower frozen and adapter-free by default).

    With Unsloth's loader (``fast``) its own ``get_peft_model`` adds them to the same modules.
    """
    if fast is not None:
        extra: dict[str, Any] = {"target_modules": list(LM_PROJECTIONS)}
        if getattr(fast, "__name__", "") == "FastVisionModel":  # it picks the modules by tower and kind
            extra = {"finetune_vision_layers": settings.target == "all", "finetune_language_layers": True,
                     "finetune_attention_modules": True, "finetune_mlp_modules": True}
        return fast.get_peft_model(model, r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                                   bias="none", random_state=settings.seed, **extra)
    try:
        import peft
    except ImportError:
        raise BackendUnavailable("LoRA needs peft: pip install 'scenewatch[train]'") from None
    if settings.qlora:
        model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=settings.gradient_checkpointing)
    config = peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                             target_modules=lora_target_regex(settings.target), bias="none", task_type="CAUSAL_LM")
    wrapped = peft.get_peft_model(model, config)
    return wrapped


def _latest_checkpoint(out: Path) -> Path | None:
    steps = []
    for p in (out / "checkpoints").glob("step-*"):
        m = re.fullmatch(r"step-(\d+)", p.name)
        if m and (p / "state.pt").is_file():
            steps.append((int(m.group(1)), p))
    return max(steps)[1] if steps else None


def _save_checkpoint(model: Any, optimizer: Any, step: int, losses: list[float], out: Path) -> Path:
    import torch

    path = out / "checkpoints" / f"step-{step}"
    model.save_pretrained(str(path))
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "losses": losses,
                "torch_rng": torch.get_rng_state(), "py_rng": random.getstate()}, path / "state.pt")
    return path


def _restore(model: Any, optimizer: Any, path: Path) -> tuple[int, list[float]]:
    import peft
    import torch
    from safetensors.torch import load_file

    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        raise TrainingError(f"checkpoint {path} has no adapter_model.safetensors")
    peft.set_peft_model_state_dict(model, load_file(str(weights)))
    state = torch.load(path / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["py_rng"])
    return int(state["step"]), list(state["losses"])


class _Encoded:
    """Processor outputs per example, computed once (the processor is deterministic)."""

    def __init__(self, processor: Any, max_pixels: int) -> None:
        self.processor, self.max_pixels = processor, max_pixels
        self._cache: dict[int, dict[str, Any]] = {}

    def __call__(self, example: Example, model: Any) -> dict[str, Any]:
        key = id(example)
        if key not in self._cache:
            self._cache[key] = _to(encode_example(self.processor, example, self.max_pixels), model)
        return self._cache[key]


def evaluate(model: Any, encoded: _Encoded, examples: Sequence[Example]) -> float | None:
    """Mean answer-token loss over ``examples`` (``None`` when there are none)."""
    import torch

    if not examples:
        return None
    model.eval()
    total = 0.0
    with torch.no_grad():
        for ex in examples:
            total += float(model(**encoded(ex, model)).loss)
    model.train()
    return total / len(examples)


def _to(inputs: dict[str, Any], model: Any) -> dict[str, Any]:
    device = next(model.parameters()).device
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}


def train(settings: TrainSettings, on_progress: Callable[[TrainProgress], None] | None = None,
          model: Any = None, processor: Any = None) -> TrainResult:
    """Fine-tune with LoRA and save the adapter to ``settings.out``.

    Args:
        settings: what to train.
        on_progress: called after each optimizer step.
        model: an already built base model (tests pass a tiny random one); loaded from ``settings.base``
            otherwise.
        processor: its processor.

    Raises:
        TrainingError: no data, or QLoRA without CUDA.
        BackendUnavailable: torch, transformers or peft are missing.
    """
    try:
        import torch
    except ImportError:
        raise BackendUnavailable("training needs torch: pip install 'scenewatch[train]'") from None
    if settings.qlora:
        require_cuda_for_qlora()
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    examples = load_examples(settings.data, settings.frames)
    train_set, eval_set = split_examples(examples, settings.eval_fraction, settings.seed)
    if not train_set:
        raise TrainingError("every clip went to the eval split; lower --eval-fraction")
    fast = None
    if model is None:
        fast = unsloth_loader() if settings.unsloth else None
        model, processor = load_base(settings.base, settings.qlora, fast)
    if torch.cuda.is_available() and not settings.qlora and fast is None:
        model = model.to("cuda")
    if settings.gradient_checkpointing and torch.cuda.is_available() and fast is None:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = wrap_lora(model, settings, fast)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    per_epoch = math.ceil(len(train_set) / settings.grad_accum)
    total = settings.max_steps or max(1, math.ceil(per_epoch * settings.epochs))
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    step, losses = 0, list[float]()
    ckpt = _latest_checkpoint(out) if settings.resume else None
    if ckpt is not None:
        step, losses = _restore(model, optimizer, ckpt)
        log.info("resumed from %s (step %d)", ckpt, step)
    resumed_from = step
    encoded = _Encoded(processor, settings.max_pixels)
    eval_before = evaluate(model, encoded, eval_set)
    eval_loss = eval_before
    model.train()
    order = random.Random(settings.seed + step)
    while step < total:
        batch = [order.choice(train_set) for _ in range(settings.grad_accum)]
        optimizer.zero_grad()
        step_loss = 0.0
        for ex in batch:
            loss = model(**encoded(ex, model)).loss / len(batch)
            loss.backward()
            step_loss += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        losses.append(step_loss)
        if eval_set and (step % settings.eval_every == 0 or step == total):
            eval_loss = evaluate(model, encoded, eval_set)
        if step % settings.save_every == 0 and step < total:
            _save_checkpoint(model, optimizer, step, losses, out)
        if on_progress is not None:
            on_progress(TrainProgress(step, total, step_loss, eval_loss))
    model.save_pretrained(str(out))
    _save_checkpoint(model, optimizer, step, losses, out)
    result = TrainResult(out=out, steps=step, train_examples=len(train_set), eval_examples=len(eval_set),
                         first_loss=losses[0] if losses else float("nan"),
                         last_loss=float(np.mean(losses[-max(1, len(losses) // 5):])) if losses else float("nan"),
                         eval_before=eval_before, eval_after=eval_loss, resumed_from=resumed_from, losses=losses,
                         model=model, processor=processor)
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()
             if k not in ("model", "processor")}
    (out / "train_result.json").write_text(json.dumps(saved, indent=2) + "\n")
    return result


def apply_adapter(model: Any, adapter: Path | str) -> Any:
    """Load a saved LoRA adapter onto a base model (for inference)."""
    try:
        import peft
    except ImportError:
        raise BackendUnavailable("using a LoRA adapter needs peft: pip install 'scenewatch[train]'") from None
    return peft.PeftModel.from_pretrained(model, str(adapter))


def merge(base: str, adapter: Path | str, out: Path | str, model: Any = None, processor: Any = None) -> Path:
    """Fold ``adapter`` into the base weights and save a plain model (and its processor) to ``out``."""
    if model is None:
        model, processor = load_base(base, qlora=False)
    merged = apply_adapter(model, adapter).merge_and_unload()
    out = Path(out)
    merged.save_pretrained(str(out))
    if processor is not None and hasattr(processor, "save_pretrained"):
        try:
            processor.save_pretrained(str(out))
        except Exception as exc:  # a processor without a saveable form: the model is still usable
            log.warning("processor not saved with the merged model: %s", exc)
    return out
