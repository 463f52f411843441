"""``stilton token``: create, list and revoke upload tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stilton.cli.common import ConfigFile, DataDir, opened, out

token_app = typer.Typer(help="Create, list and revoke upload tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    index: Annotated[
        str | None,
        typer.Option("--index", "-i", help="Index the token may upload to (default: every index)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the token is for.")] = "",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an upload token; it is printed once, alone on the last line."""
    with opened(data_dir, config) as runtime:
        token_id, token = runtime.tokens.create(
            runtime.get_index_record(index).name if index else None, description
        )
        out.print(
            f"Token {token_id} for {'index ' + repr(index) if index else 'every index'}; use it"
            " as the password of user '__token__'. It is not shown again:",
            highlight=False,
            soft_wrap=True,
        )
        out.file.flush()
        print(token, flush=True)


@token_app.command("list")
def token_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List tokens (never their secrets)."""
    with opened(data_dir, config) as runtime:
        table = Table("id", "index", "description", "created", "last used", "state")
        for record in runtime.tokens.list():
            table.add_row(
                str(record.id),
                record.index or "(every index)",
                record.description,
                record.created_at.strftime("%Y-%m-%d %H:%M"),
                record.last_used_at.strftime("%Y-%m-%d %H:%M") if record.last_used_at else "never",
                "revoked" if record.revoked else "active",
            )
        out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see 'token list').")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a token."""
    with opened(data_dir, config) as runtime:
        runtime.tokens.revoke(token_id)
        out.print(f"Revoked token {token_id}.")
