"""Where derived model files live, and the pinned-checksum check every backend uses.

Weights come from registry packages pinned by version; each backend names the sha256 of the
files it loads. A good check is remembered (keyed by path, size and mtime) so a model is
hashed once, not on every start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from scenewatch.errors import ModelIntegrityError

log = logging.getLogger(__name__)


def models_dir() -> Path:
    """``<user cache dir>/scenewatch/models``; ``SCENEWATCH_MODELS_DIR`` overrides it.

    Joined GGUF parts, converted ONNX graphs and extracted archives are written here.
    """
    env = os.environ.get("SCENEWATCH_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("scenewatch", appauthor=False)) / "models"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _ledger() -> Path:
    return models_dir() / "verified-weights.json"


def is_verified(path: Path, expected: str) -> bool:
    """Whether ``path`` hashes to ``expected`` (a good result is remembered)."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{expected}"
    ledger = _ledger()
    try:
        known: dict[str, str] = json.loads(ledger.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(key) == "ok":
        return True
    if sha256_file(path) != expected:
        return False
    known[key] = "ok"
    try:
        ledger.parent.mkdir(parents=True, exist_ok=True)
        tmp = ledger.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(ledger)
    except OSError as exc:  # a read-only cache only costs a re-hash next time
        log.debug("cannot remember weight verification: %s", exc)
    return True


def verify_sha256(path: Path, expected: str, install: str) -> None:
    """Check a weight file against its pinned sha256.

    Args:
        path: the file.
        expected: pinned hex digest.
        install: the command that reinstalls it, for the error message.

    Raises:
        ModelIntegrityError: the digest differs.
    """
    if not is_verified(path, expected):
        raise ModelIntegrityError(f"{path} failed its checksum: sha256 {sha256_file(path)}, expected {expected}; "
                                  f"reinstall: {install}")
