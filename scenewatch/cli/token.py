"""``scenewatch token create|list|revoke``: API tokens for scripts and Home Assistant."""

from __future__ import annotations

from pathlib import Path

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json

token_app = typer.Typer(help="Manage API tokens (stored hashed; a token is shown once).", no_args_is_help=True)


@token_app.command("create")
def create(name: str = typer.Argument(..., help="What the token is for."), db: Path | None = DbOption,
           config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Create a token and print it once."""
    from scenewatch.runtime import queries, service

    with service.open_store(build_config(config, db)) as store:
        token = queries.create_token(store, name)
    if as_json:
        print_json(token)
        return
    console.print(f"token #{token['id']} ({token['name']}), shown once:", highlight=False)
    typer.echo(token["token"])


@token_app.command("list")
def list_(db: Path | None = DbOption, config: Path | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """List tokens (never their secrets)."""
    from scenewatch.runtime import queries, service

    with service.open_store(build_config(config, db)) as store:
        tokens = queries.list_tokens(store)
    if as_json:
        print_json(tokens)
        return
    for t in tokens:
        typer.echo(f"#{t['id']}  {t['prefix']}…  {t['name']}  {'revoked' if t['revoked'] else 'active'}")


@token_app.command("revoke")
def revoke(token_id: int = typer.Argument(..., min=1, help="Token id (see `scenewatch token list`)."),
           db: Path | None = DbOption, config: Path | None = ConfigOption) -> None:
    """Revoke a token."""
    from scenewatch.runtime import queries, service

    with service.open_store(build_config(config, db)) as store:
        t = queries.revoke_token(store, token_id)
    console.print(f"revoked token #{t['id']} ({t['name']})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``token`` command group."""
    app.add_typer(token_app, name="token")
