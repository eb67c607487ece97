"""``scenewatch serve`` refuses unsafe binds; ``scenewatch token`` creates, lists and revokes tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scenewatch.api.launcher import is_loopback
from scenewatch.runtime import queries, service
from tests.api.serving_helpers import make_config


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scenewatch.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")


def test_serve_refuses_public_bind_without_auth(tmp_path: Path) -> None:
    r = _cli("serve", "--host", "0.0.0.0", "--port", "1", "--no-workers", "--db", str(tmp_path / "t.db"),
             env={"SCENEWATCH_SERVE__AUTH": "false"})
    assert r.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in r.stderr


def test_token_cli_roundtrip(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    created = _cli("token", "create", "home assistant", "--db", str(db), "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token"].startswith("sw_") and len(token["token"]) > 40
    with service.open_store(make_config(db)) as store:
        assert queries.verify_token(store, token["token"]) == token["id"]
        stored = store.execute("SELECT token_hash FROM api_tokens")[0][0]
        assert token["token"] not in stored  # only the hash is stored
    listed = _cli("token", "list", "--db", str(db))
    assert "home assistant" in listed.stdout and "active" in listed.stdout and token["token"] not in listed.stdout
    assert _cli("token", "revoke", str(token["id"]), "--db", str(db)).returncode == 0
    assert "revoked" in _cli("token", "list", "--db", str(db)).stdout
    with service.open_store(make_config(db)) as store:
        assert queries.verify_token(store, token["token"]) is None
    missing = _cli("token", "revoke", "999", "--db", str(db))
    assert missing.returncode == 2 and "no token with id 999" in missing.stderr


def test_first_start_generates_a_password_once(tmp_path: Path) -> None:
    config = make_config(tmp_path / "t.db")
    with service.open_store(config) as store:
        first = queries.ensure_admin_password(store, None)
        assert first and len(first) >= 12
        assert queries.ensure_admin_password(store, None) is None  # printed once only
        assert queries.verify_admin_password(store, first)
        assert not queries.verify_admin_password(store, first + "x")
        stored = store.execute("SELECT value FROM serve_secrets")[0][0]
        assert first not in stored and stored.startswith("scrypt$")
