"""The ``scenewatch`` command line: one module per subcommand, each with ``register(app)``.

Errors a user can cause surface as one red line and exit code 2 (no traceback); set
``SCENEWATCH_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from scenewatch.errors import ScenewatchError

# Subcommand modules in scenewatch.cli; each defines ``register(app: typer.Typer)``.
COMMAND_MODULES = (
    "watch", "index", "timeline", "info", "transcribe", "sounds", "detect", "concepts", "read",
    "search", "ask", "report",
    "review", "export", "dataset", "train", "plan",  # learning (docs/learning.md)
    "serve", "token",  # serving (docs/serving.md)
    "outbox",  # pending actions (webhook, MQTT, command)
    "people",  # known faces (docs/seeing.md)
)

app = typer.Typer(
    name="scenewatch",
    help="Watch video and sound like a person would, remember it, and answer for it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"scenewatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"scenewatch.cli.{name}":
                continue  # subcommand not shipped in this build
            raise
        module.register(app)


_load_commands()


def main() -> None:
    """Entry point: run the app, turning scenewatch errors into one line."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except ScenewatchError as exc:
        if os.environ.get("SCENEWATCH_DEBUG"):
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors and aborts
        exits, usage, aborts = _click_exception_types()
        if isinstance(exc, exits):
            sys.exit(getattr(exc, "exit_code", 0))
        if isinstance(exc, usage):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, aborts):
            sys.exit(1)
        raise


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(exit, usage-error, abort) classes of typer and of click: newer typer vendors its own click."""
    exits: list[type] = [typer.Exit]
    usage: list[type] = []
    aborts: list[type] = [typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        exits += [t for t in (getattr(module, "Exit", None),) if isinstance(t, type)]
        usage += [t for t in (getattr(module, "ClickException", None),) if isinstance(t, type)]
        aborts += [t for t in (getattr(module, "Abort", None),) if isinstance(t, type)]
    return tuple(exits), tuple(usage), tuple(aborts)


if __name__ == "__main__":
    main()
