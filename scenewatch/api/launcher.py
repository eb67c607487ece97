"""Run the whole server: source workers, the ASGI app under uvicorn, the MQTT publisher; stop cleanly.

The ``scenewatch serve`` command parses flags and calls :func:`run`; everything about the
process lifetime lives here so another launcher (a service manager, a test) gets the same
safety checks and shutdown order.
"""

from __future__ import annotations

import ipaddress
import signal
from collections.abc import Callable

from scenewatch.config import Config
from scenewatch.errors import BackendUnavailable, ConfigError
from scenewatch.runtime import queries, service
from scenewatch.runtime.server import SourceManager


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(config: Config) -> None:
    """Refuse to serve beyond loopback without authentication.

    Raises:
        ConfigError: ``serve.auth`` is off and ``serve.host`` is not a loopback address.
    """
    if not config.serve.auth and not is_loopback(config.serve.host):
        raise ConfigError(f"refusing to serve on {config.serve.host} without authentication: "
                          "set serve.auth: true or bind to 127.0.0.1")


def prepare_password(config: Config) -> str | None:
    """Make sure an admin password exists; returns one generated now (to be shown once), else ``None``."""
    if not config.serve.auth:
        return None
    with service.open_store(config) as store:
        secret = config.serve.password.get_secret_value() if config.serve.password else None
        return queries.ensure_admin_password(store, secret)


def run(config: Config, *, workers: bool = True, say: Callable[[str], None] = lambda _: None,
        ray: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then stop the HTTP server, the publisher and every worker.

    ``ray`` (``local`` or a cluster address) runs each source in a Ray actor instead of a thread.

    Raises:
        ConfigError: an unsafe bind (see :func:`check_bind`).
        BackendUnavailable: the ``serve`` extra is not installed.
    """
    check_bind(config)
    try:
        import uvicorn

        from scenewatch.api.app import create_app
    except ModuleNotFoundError as exc:
        raise BackendUnavailable(f"serving needs {exc.name}: pip install 'scenewatch[serve]'") from None
    factory = None
    if ray is not None:  # each source in a Ray actor (docs/cluster.md)
        from scenewatch.runtime.cluster import ray_worker_factory

        factory = ray_worker_factory(config.cluster.address if ray == "local" else ray)
    manager = SourceManager(config, worker_factory=factory).start() if workers else None
    app = create_app(config, manager=manager)
    if config.serve.mqtt.enabled:
        from scenewatch.api.mqtt import MqttPublisher

        publisher = MqttPublisher(config, manager).start()
        app.state.server.extras.setdefault("on_shutdown", []).append(publisher.stop)
    say(f"serving on http://{config.serve.host}:{config.serve.port}  (API docs: /api/docs)")
    # uvicorn handles SIGINT/SIGTERM (stops accepting, finishes requests) and then re-raises the
    # signal into the handlers it found: make those no-ops so the workers are stopped below.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        uvicorn.run(app, host=config.serve.host, port=config.serve.port, log_level="warning", access_log=False)
    finally:
        if manager is not None:
            say("stopping workers…")
            manager.shutdown()
