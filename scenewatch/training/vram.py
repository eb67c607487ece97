"""VRAM (or RAM) planner: what a set of models needs on one device, and what to change when it does not fit.

Every number is computed from a formula over a model's architecture; nothing is a hard-coded total.

Weights
    parameters × bytes per parameter at the chosen precision. Parameter counts are computed from the
    model's ``config.json`` fields (``ARCHS``; each entry names the file it was copied from), or, for the
    few models whose count is not a simple function of their config, taken from a table with its source
    (``DOCUMENTED_PARAMS``). NF4 (bitsandbytes 4-bit) stores linear layers at 4 bits plus block scales:
    one 8-bit absmax per 64 weights and one fp32 scale per 256 blocks (double quantisation) =
    4 + 8/64 + 32/(64·256) = 4.127 bits; embeddings and the LM head stay at 16 bits (bitsandbytes keeps
    the output layer unquantised and does not touch ``nn.Embedding``). GGUF Q4_K_M averages 4.84
    bits/weight (llama.cpp ``quantize`` table: 7B → 4.08 GB for 6.74 B weights).
KV cache (decoders)
    layers × KV heads × head dim × context × 2 (K and V) × bytes × batch.
    Whisper: self-attention over ``n_text_ctx`` tokens × beams, plus cross-attention keys/values over
    the 1,500 encoder frames once.
Activations (inference, SDPA attention so no ``seq²`` matrix is kept)
    tokens × (4·hidden + 2·intermediate) × bytes: the live set of one block (residual, normed input,
    attention output, gate and up projections). A VL model adds its vision encoder over
    ``4 × visual tokens`` patches (2×2 merge). Image encoders use their own token count × batch.
Runtime
    one CUDA context (0.5 GB: CUDA 12 with lazy module loading) per process, and 10 % of activations +
    KV cache for allocator fragmentation (PyTorch's caching allocator rounds blocks up).
Training (LoRA / QLoRA, batch 1, gradient checkpointing)
    frozen base weights (bf16, or NF4 for QLoRA) + LoRA parameters × 16 bytes (fp32 weight, gradient and
    two Adam moments) + checkpointed layer inputs (2·seq·hidden bytes per layer) + one recomputed block
    (34·seq·hidden bytes, Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
    Models", eq. 1 without the attention-score term) + fp32 logits and their gradient (2 × seq × vocab × 4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from scenewatch.errors import ConfigError

GB = 1e9
CUDA_CONTEXT_GB = 0.5
FRAGMENTATION = 0.10
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "nf4": NF4_BITS / 8, "q4_k_m": 4.84 / 8}

# Architecture fields copied from each model's config.json (the URL is the file read).
ARCHS: dict[str, dict[str, Any]] = {
    "qwen2.5-vl-3b": {
        "type": "qwen2-vl", "hidden": 2048, "intermediate": 11008, "layers": 36, "heads": 16, "kv_heads": 2,
        "vocab": 151936, "tied": True, "vision": {"depth": 32, "hidden": 1280, "intermediate": 3420, "out": 2048},
        "source": "https://huggingface.co/Qwen/Qwen2.5-VL-3B-Instruct/blob/main/config.json",
        "published_params": 3.75e9},
    "qwen2.5-vl-7b": {
        "type": "qwen2-vl", "hidden": 3584, "intermediate": 18944, "layers": 28, "heads": 28, "kv_heads": 4,
        "vocab": 152064, "tied": False, "vision": {"depth": 32, "hidden": 1280, "intermediate": 3420, "out": 3584},
        "source": "https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct/blob/main/config.json",
        "published_params": 8.29e9},
    "qwen2.5-vl-32b": {
        "type": "qwen2-vl", "hidden": 5120, "intermediate": 27648, "layers": 64, "heads": 40, "kv_heads": 8,
        "vocab": 152064, "tied": False, "vision": {"depth": 32, "hidden": 1280, "intermediate": 3456, "out": 5120},
        "source": "https://huggingface.co/Qwen/Qwen2.5-VL-32B-Instruct/blob/main/config.json",
        "published_params": 33.5e9},
    "qwen2.5-1.5b": {
        "type": "decoder", "hidden": 1536, "intermediate": 8960, "layers": 28, "heads": 12, "kv_heads": 2,
        "vocab": 151936, "tied": True, "source": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/blob/main/config.json",
        "published_params": 1.54e9},
    "llama-7b": {
        "type": "decoder", "hidden": 4096, "intermediate": 11008, "layers": 32, "heads": 32, "kv_heads": 32,
        "vocab": 32000, "tied": False, "bias": False,
        "source": "https://huggingface.co/huggyllama/llama-7b/blob/main/config.json", "published_params": 6.74e9},
    "whisper-large-v3": {
        "type": "whisper", "d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "ffn": 5120,
        "vocab": 51866, "mels": 128, "audio_ctx": 1500, "text_ctx": 448,
        "source": "https://huggingface.co/openai/whisper-large-v3/blob/main/config.json", "published_params": 1.55e9},
    "whisper-tiny": {
        "type": "whisper", "d_model": 384, "encoder_layers": 4, "decoder_layers": 4, "ffn": 1536, "vocab": 51865,
        "mels": 80, "audio_ctx": 1500, "text_ctx": 448,
        "source": "https://huggingface.co/openai/whisper-tiny.en/blob/main/config.json", "published_params": 39e6},
    "siglip2-so400m": {
        "type": "siglip", "hidden": 1152, "intermediate": 4304, "layers": 27, "patch": 14, "image": 384,
        "text_vocab": 256000, "text_layers": 27, "text_ctx": 64,
        "source": "https://huggingface.co/google/siglip2-so400m-patch14-384/blob/main/config.json",
        "published_params": 1.14e9},
    "siglip2-base": {
        "type": "siglip", "hidden": 768, "intermediate": 3072, "layers": 12, "patch": 16, "image": 224,
        "text_vocab": 256000, "text_layers": 12, "text_ctx": 64,
        "source": "https://huggingface.co/google/siglip2-base-patch16-224/blob/main/config.json",
        "published_params": 375e6},
    "minilm-l6": {
        "type": "encoder", "hidden": 384, "intermediate": 1536, "layers": 6, "vocab": 30522, "ctx": 256,
        "source": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/blob/main/config.json",
        "published_params": 22.7e6},
}

# Models whose parameter count is not a simple function of a config: count, activation tokens, source.
DOCUMENTED_PARAMS: dict[str, dict[str, Any]] = {
    "sam3": {"params": 848e6, "tokens": (1008 // 14) ** 2, "hidden": 1024, "intermediate": 4096,
             "source": "SAM 3 model card / paper (facebook/sam3, arXiv 2511.16719): 848M parameters; 1008 px input, "
                       "patch 14"},
    "yamnet": {"params": 3.7e6, "tokens": 96, "hidden": 1024, "intermediate": 1024,
               "source": "tensorflow/models research/audioset/yamnet README: 3.7M weights (MobileNet v1)"},
    "nanodet": {"params": 0.95e6, "tokens": 52 * 52, "hidden": 96, "intermediate": 96,
                "source": "RangiLyu/nanodet README: NanoDet-m 0.95M params (416 px)"},
    "ppocr": {"params": 6.8e6, "tokens": 960 * 960 // 16, "hidden": 64, "intermediate": 64,
              "source": "PaddleOCR PP-OCRv4 mobile det (~4.7M) + rec (~10 MB fp32) as shipped in rapidocr (~27 MB)"},
}

# Named device profiles and their default model sets.
PROFILES: dict[str, dict[str, Any]] = {
    "24gb": {"memory_gb": 24.0, "device": "cuda", "context": 8192,
             "models": ["qwen2.5-vl-7b@nf4", "sam3@bf16", "whisper-large-v3@int8", "siglip2-so400m@fp16"]},
    "48gb": {"memory_gb": 48.0, "device": "cuda", "context": 32768,
             "models": ["qwen2.5-vl-7b@bf16", "sam3@bf16", "whisper-large-v3@fp16", "siglip2-so400m@fp16"]},
    "cpu": {"memory_gb": 8.0, "device": "cpu", "context": 4096,
            "models": ["qwen2.5-1.5b@q4_k_m", "whisper-tiny@int8", "yamnet@int8", "nanodet@fp32", "ppocr@fp32",
                       "minilm-l6@fp32"]},
}


def decoder_params(a: Mapping[str, Any]) -> tuple[float, float, float]:
    """``(total, linear-layer, embedding+head)`` parameters of a decoder LM (Qwen2/LLaMA style)."""
    h, i, n, kv = a["hidden"], a["intermediate"], a["layers"], a["kv_heads"]
    hd = h // a["heads"]
    attn = 2 * h * h + 2 * h * kv * hd + ((h + 2 * kv * hd) if a.get("bias", True) else 0)  # q,o; k,v; qkv bias
    per_layer_linear = attn + 3 * h * i
    linear = n * per_layer_linear
    emb = a["vocab"] * h * (1 if a.get("tied") else 2)
    norms = n * 2 * h + h
    return linear + emb + norms, linear, emb


def vision_params(v: Mapping[str, Any], lm_hidden: int) -> float:
    """Qwen2.5-VL vision tower: blocks (qkv+proj, gated MLP), 14×14×2 patch embed, 2×2 merger MLP."""
    h, i = v["hidden"], v["intermediate"]
    blocks = v["depth"] * (4 * h * h + 4 * h + 3 * h * i + 2 * h)
    patch = 3 * 2 * 14 * 14 * h
    merger = (4 * h) * (4 * h) + 4 * h + (4 * h) * v.get("out", lm_hidden) + v.get("out", lm_hidden) + h
    return float(blocks + patch + merger)


def whisper_params(a: Mapping[str, Any]) -> float:
    """Whisper: encoder blocks 12·d² (attention 4d², MLP 2·d·ffn), decoder 16·d², embeddings, convs."""
    d, f = a["d_model"], a["ffn"]
    enc = a["encoder_layers"] * (4 * d * d + 2 * d * f)
    dec = a["decoder_layers"] * (8 * d * d + 2 * d * f)
    emb = a["vocab"] * d + a["text_ctx"] * d + a["audio_ctx"] * d
    conv = a["mels"] * d * 3 + d * d * 3
    return float(enc + dec + emb + conv)


def siglip_params(a: Mapping[str, Any]) -> float:
    """SigLIP image + text towers: blocks 4·h² + 2·h·mlp, patch and position embeddings, text vocabulary."""
    h, i = a["hidden"], a["intermediate"]
    block = 4 * h * h + 2 * h * i
    grid = (a["image"] // a["patch"]) ** 2
    vision = a["layers"] * block + 3 * a["patch"] ** 2 * h + grid * h + block  # + attention-pool head
    text = a["text_layers"] * block + a["text_vocab"] * h + a["text_ctx"] * h + h * h
    return float(vision + text)


def encoder_params(a: Mapping[str, Any]) -> float:
    """A BERT-style encoder."""
    h, i = a["hidden"], a["intermediate"]
    return float(a["layers"] * (4 * h * h + 2 * h * i) + (a["vocab"] + 512 + 2) * h)


def param_count(name: str) -> float:
    """Parameters of a model, from its config fields (or the documented table)."""
    if name in DOCUMENTED_PARAMS:
        return float(DOCUMENTED_PARAMS[name]["params"])
    a = ARCHS[name]
    if a["type"] in ("qwen2-vl", "decoder"):
        total = decoder_params(a)[0]
        return total + (vision_params(a["vision"], a["hidden"]) if "vision" in a else 0.0)
    if a["type"] == "whisper":
        return whisper_params(a)
    if a["type"] == "siglip":
        return siglip_params(a)
    return encoder_params(a)


@dataclass(frozen=True)
class Component:
    """One model's share of memory, in GB."""

    name: str
    precision: str
    params_b: float
    weights_gb: float
    kv_gb: float = 0.0
    activations_gb: float = 0.0
    source: str = ""

    @property
    def total_gb(self) -> float:
        """Weights + KV cache + activations."""
        return self.weights_gb + self.kv_gb + self.activations_gb


@dataclass
class Plan:
    """A memory plan: components, runtime overheads, total against the device, and fixes."""

    device: str
    memory_gb: float
    context: int
    mode: str
    components: list[Component]
    runtime_gb: float
    total_gb: float
    fits: bool
    suggestions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (component totals included)."""
        d = asdict(self)
        for c, comp in zip(d["components"], self.components, strict=True):
            c["total_gb"] = round(comp.total_gb, 3)
        return d


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: device memory, models with precisions, context, inference or training."""

    memory_gb: float
    device: str
    models: tuple[tuple[str, str], ...]
    context: int
    mode: str = "inference"
    train_seq: int = 1024
    lora_rank: int = 16
    whisper_beams: int = 5
    image_batch: int = 16

    @classmethod
    def from_cli(cls, gpu: str | None = None, models: Sequence[str] | None = None, context: int | None = None,
                 mode: str = "inference") -> PlanRequest:
        """Parse ``--gpu 24GB|48GB|cpu|<n>GB``, ``--models name@precision,…`` and ``--context``."""
        profile_key, memory, device = _parse_gpu(gpu or "24GB")
        profile = PROFILES[profile_key]
        names = [m for part in (models or []) for m in part.split(",") if m.strip()] or profile["models"]
        if mode not in ("inference", "lora", "qlora"):
            raise ConfigError(f"--mode {mode!r}: use inference, lora or qlora")
        return cls(memory_gb=memory, device=device, models=tuple(_parse_model(n) for n in names),
                   context=int(context or profile["context"]), mode=mode)


def _parse_gpu(text: str) -> tuple[str, float, str]:
    t = text.strip().lower().replace(" ", "")
    if t in ("cpu", "none", "0"):
        return "cpu", PROFILES["cpu"]["memory_gb"], "cpu"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(gb|g|gib)?", t)
    if not m:
        raise ConfigError(f"--gpu {text!r}: give memory like 24GB or 48GB, or cpu")
    gb = float(m.group(1)) * (1.073741824 if m.group(2) == "gib" else 1.0)
    return ("48gb" if gb >= 40 else "24gb"), gb, "cuda"


def _parse_model(text: str) -> tuple[str, str]:
    name, _, precision = text.strip().lower().partition("@")
    if Path(name).suffix == ".json" or (Path(name) / "config.json").is_file():
        register_config(Path(name))
        name = _config_name(Path(name))
    if name not in ARCHS and name not in DOCUMENTED_PARAMS:
        known = ", ".join(sorted([*ARCHS, *DOCUMENTED_PARAMS]))
        raise ConfigError(f"unknown model {name!r}; known: {known} (or a path to a config.json)")
    precision = precision or ("bf16" if name in ARCHS and ARCHS[name]["type"] in ("qwen2-vl", "decoder") else "fp16")
    if precision not in BYTES:
        raise ConfigError(f"precision {precision!r} for {name}: use one of {', '.join(BYTES)}")
    return name, precision


def _config_name(path: Path) -> str:
    return (path.parent.name if path.suffix == ".json" else path.name).lower()


def register_config(path: Path) -> str:
    """Add a local decoder / Qwen2-VL ``config.json`` (or a model folder holding one) to the table."""
    file = path if path.suffix == ".json" else path / "config.json"
    try:
        cfg = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read model config {file}: {exc}") from None
    text = cfg.get("text_config", cfg)
    try:
        arch: dict[str, Any] = {
            "type": "qwen2-vl" if "vision_config" in cfg else "decoder", "hidden": text["hidden_size"],
            "intermediate": text["intermediate_size"], "layers": text["num_hidden_layers"],
            "heads": text["num_attention_heads"],
            "kv_heads": text.get("num_key_value_heads", text["num_attention_heads"]),
            "vocab": text.get("vocab_size", cfg.get("vocab_size")),
            "tied": bool(cfg.get("tie_word_embeddings", text.get("tie_word_embeddings", False))), "source": str(file)}
    except KeyError as exc:
        raise ConfigError(f"{file}: not a decoder config (missing {exc})") from None
    if "vision_config" in cfg:
        v = cfg["vision_config"]
        arch["vision"] = {"depth": v.get("depth", 32), "hidden": v.get("hidden_size", 1280),
                          "intermediate": v.get("intermediate_size", 3420),
                          "out": v.get("out_hidden_size", arch["hidden"])}
    name = _config_name(path)
    ARCHS[name] = arch
    return name


def _decoder_component(name: str, precision: str, req: PlanRequest) -> Component:
    a = ARCHS[name]
    total, linear, emb = decoder_params(a)
    vis = vision_params(a["vision"], a["hidden"]) if "vision" in a else 0.0
    if precision == "nf4":
        weights = (linear + vis) * BYTES["nf4"] + (emb + total - linear - emb) * 2.0
    else:
        weights = (total + vis) * BYTES[precision]
    h, hd = a["hidden"], a["hidden"] // a["heads"]
    kv = a["layers"] * a["kv_heads"] * hd * req.context * 2 * 2.0
    act = req.context * (4 * h + 2 * a["intermediate"]) * 2.0
    if "vision" in a:
        v = a["vision"]
        patches = 4 * (req.context // 2)  # half the context as visual tokens, 2×2 merged
        act += patches * (4 * v["hidden"] + 2 * v["intermediate"]) * 2.0
    if precision == "q4_k_m":  # llama.cpp on CPU: KV in fp16, compute buffers ~ one block at 512-token batches
        act = 512 * (4 * h + 2 * a["intermediate"]) * 4.0
    return Component(name, precision, (total + vis) / 1e9, weights / GB, kv / GB, act / GB, a["source"])


def _component(name: str, precision: str, req: PlanRequest) -> Component:
    if name in DOCUMENTED_PARAMS:
        d = DOCUMENTED_PARAMS[name]
        act = d["tokens"] * (4 * d["hidden"] + 2 * d["intermediate"]) * 2.0
        return Component(name, precision, d["params"] / 1e9, d["params"] * BYTES[precision] / GB, 0.0, act / GB,
                         d["source"])
    a = ARCHS[name]
    if a["type"] in ("qwen2-vl", "decoder"):
        return _decoder_component(name, precision, req)
    params = param_count(name)
    if a["type"] == "whisper":
        d = a["d_model"]
        self_kv = a["decoder_layers"] * a["text_ctx"] * d * 2 * 2.0 * req.whisper_beams
        cross_kv = a["decoder_layers"] * a["audio_ctx"] * d * 2 * 2.0
        act = a["audio_ctx"] * (4 * d + 2 * a["ffn"]) * 2.0
        return Component(name, precision, params / 1e9, params * BYTES[precision] / GB, (self_kv + cross_kv) / GB,
                         act / GB, a["source"])
    if a["type"] == "siglip":
        tokens = (a["image"] // a["patch"]) ** 2 * req.image_batch
        act = tokens * (4 * a["hidden"] + 2 * a["intermediate"]) * 2.0
        return Component(name, precision, params / 1e9, params * BYTES[precision] / GB, 0.0, act / GB, a["source"])
    act = a["ctx"] * 32 * (4 * a["hidden"] + 2 * a["intermediate"]) * 4.0
    return Component(name, precision, params / 1e9, params * BYTES[precision] / GB, 0.0, act / GB, a["source"])


def training_component(name: str, precision: str, req: PlanRequest) -> Component:
    """A decoder's LoRA / QLoRA training memory (batch 1, gradient checkpointing)."""
    a = ARCHS.get(name)
    if a is None or a["type"] not in ("qwen2-vl", "decoder"):
        raise ConfigError(f"training memory is planned for language models; {name!r} is not one")
    base = replace(req, context=0)
    weights = _decoder_component(name, "nf4" if req.mode == "qlora" else precision, base).weights_gb * GB
    h, n, kv, i = a["hidden"], a["layers"], a["kv_heads"], a["intermediate"]
    hd = h // a["heads"]
    r = req.lora_rank
    lora = n * r * ((h + h) * 2 + (h + kv * hd) * 2 + (h + i) * 3)
    optim = lora * 16.0
    s = req.train_seq
    act = 2 * s * h * n + 34 * s * h + 2 * s * a["vocab"] * 4
    return Component(f"{name} ({req.mode})", "nf4" if req.mode == "qlora" else precision,
                     decoder_params(a)[0] / 1e9, (weights + optim) / GB, 0.0, act / GB, a["source"])


def _suggestions(req: PlanRequest, plan: Plan) -> list[str]:
    """Changes that make an over-budget plan fit, each checked by re-planning."""
    out: list[str] = []
    names = dict(req.models)
    candidates: list[tuple[str, PlanRequest]] = []
    for n, p in req.models:
        if n in ARCHS and ARCHS[n]["type"] in ("qwen2-vl", "decoder") and p not in ("nf4", "q4_k_m"):
            candidates.append((f"load {n} in 4-bit (@nf4)", _swap(req, n, n, "nf4")))
    if "qwen2.5-vl-7b" in names:
        candidates.append(("use qwen2.5-vl-3b instead of 7b",
                           _swap(req, "qwen2.5-vl-7b", "qwen2.5-vl-3b", names["qwen2.5-vl-7b"])))
    if "qwen2.5-vl-32b" in names:
        candidates.append(("use qwen2.5-vl-7b instead of 32b",
                           _swap(req, "qwen2.5-vl-32b", "qwen2.5-vl-7b", names["qwen2.5-vl-32b"])))
    for n in names:
        if n.startswith("whisper") and req.device == "cuda":
            candidates.append((f"run {n} on the CPU (int8, faster-whisper)", _drop(req, n)))
    if "siglip2-so400m" in names:
        candidates.append(("use siglip2-base instead of so400m",
                           _swap(req, "siglip2-so400m", "siglip2-base", names["siglip2-so400m"])))
    if req.context > 2048:
        candidates.append((f"halve the context to {req.context // 2}", replace(req, context=req.context // 2)))
    for text, changed in candidates:
        total = make_plan(changed, suggest=False).total_gb
        out.append(f"{text}: {total:.1f} GB{' (fits)' if total <= plan.memory_gb else ''}")
    return out


def _swap(req: PlanRequest, old: str, new: str, precision: str) -> PlanRequest:
    return replace(req, models=tuple((new, precision) if n == old else (n, p) for n, p in req.models))


def _drop(req: PlanRequest, name: str) -> PlanRequest:
    return replace(req, models=tuple((n, p) for n, p in req.models if n != name))


def make_plan(req: PlanRequest, suggest: bool = True) -> Plan:
    """Plan memory for ``req``: per-model weights, KV cache and activations, runtime overheads, total."""
    comps: list[Component] = []
    for name, precision in req.models:
        if req.mode in ("lora", "qlora") and name in ARCHS and ARCHS[name]["type"] in ("qwen2-vl", "decoder"):
            comps.append(training_component(name, precision, req))
        else:
            comps.append(_component(name, precision, req))
    transient = sum(c.kv_gb + c.activations_gb for c in comps)
    runtime = (CUDA_CONTEXT_GB if req.device == "cuda" else 0.3) + FRAGMENTATION * transient
    total = sum(c.total_gb for c in comps) + runtime
    plan = Plan(device=req.device, memory_gb=req.memory_gb, context=req.context, mode=req.mode, components=comps,
                runtime_gb=runtime, total_gb=total, fits=total <= req.memory_gb)
    if suggest and not plan.fits:
        plan.suggestions = _suggestions(req, plan)
    return plan
