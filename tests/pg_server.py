"""A throw-away PostgreSQL + pgvector server for tests, from the PyPI package ``pgserver``.

``pgserver`` (``scenewatch[scale]``) ships PostgreSQL 16's binaries with the ``vector`` extension
built in; we run its ``initdb`` and ``postgres`` ourselves so the server listens on 127.0.0.1 (the
package's own helper only opens a Unix socket) and dies with the test session. Set
``SCENEWATCH_TEST_PG_URL`` (a superuser URL, e.g. a CI service container with pgvector) to use an
existing server instead.

Import from a test directory's conftest (``tests/`` is put on ``sys.path`` there).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 60.0
_counter = itertools.count()


class PgUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the reason says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path:
    # Located, not imported: importing pgserver touches the user's runtime dir.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PgUnavailable("pgserver is not installed (pip install 'scenewatch[scale]')")
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        raise PgUnavailable(f"pgserver has no postgres binary in {bindir}")
    return bindir


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PgUnavailable(f"postgres did not start: {tail}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """Start a server in a temp dir on 127.0.0.1 and yield its superuser URL (``…/postgres``)."""
    external = os.environ.get("SCENEWATCH_TEST_PG_URL")
    if external:
        yield external
        return
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="sw-pg-"))
    # postgres refuses to run as root: use an unprivileged account for the server's processes.
    user = "nobody" if os.geteuid() == 0 else None
    if user is not None:
        os.chown(root, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        # That account may not be able to reach the venv (a checkout under a 0700 temp dir): run a
        # copy of the installation (34 MB) laid out as in site-packages, since the binaries find
        # their libraries at $ORIGIN/../../../pgserver.libs.
        package = bindir.parent.parent
        shutil.copytree(package.parent / "pgserver.libs", root / "site" / "pgserver.libs", symlinks=True)
        bindir = Path(shutil.copytree(bindir.parent, root / "site" / "pgserver" / "pginstall", symlinks=True)) / "bin"
    data, log = root / "data", root / "postgres.log"
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--lc-collate=C", "--lc-ctype=C.UTF-8", "-N"],
                       check=True, capture_output=True, timeout=START_TIMEOUT, user=user)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        raise PgUnavailable(f"initdb failed: {exc} {detail.decode(errors='replace')[-500:]}") from None
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(root),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
            stdout=out, stderr=subprocess.STDOUT, user=user, start_new_session=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.send_signal(signal.SIGQUIT)  # immediate shutdown: the data dir is deleted anyway
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def with_database(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name`` instead."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


def new_pg_database(admin_url: str, template: str | None = None) -> str:
    """Create an empty (or ``template``-cloned) database and return its URL."""
    import psycopg

    name = f"sw_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""))
    return with_database(admin_url, name)
