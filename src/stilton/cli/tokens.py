"""``stilton token``: create, list and revoke API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, fail, opened, out, table
from stilton.core.names import IndexName
from stilton.core.permissions import Action
from stilton.core.policies import parse_cutoff

token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_expiry(raw: str | None) -> datetime | None:
    """``30d``, ``12h``, ``45m`` from now, or an ISO 8601 date."""
    if raw is None:
        return None
    match = _DURATION.match(raw.strip())
    if match:
        amount, unit = int(match[1]), match[2]
        delta = {
            "d": timedelta(days=amount),
            "h": timedelta(hours=amount),
            "m": timedelta(minutes=amount),
        }[unit]
        return datetime.now(UTC) + delta
    return parse_cutoff(raw)


@token_app.command("create")
def token_create(
    index: Annotated[
        list[str] | None,
        typer.Option(
            "--index",
            "-i",
            help="Index the token may be used on, repeatable (default: every index).",
        ),
    ] = None,
    action: Annotated[
        list[Action] | None,
        typer.Option(
            "--action", help="read, upload or admin, repeatable (default: read and upload)."
        ),
    ] = None,
    project: Annotated[
        list[str] | None,
        typer.Option(
            "--project",
            help="Limit the token to these projects (name or glob, repeatable): it uploads,"
            " yanks and reads only them, not other projects of the index nor its list of"
            " projects. Installs that need other projects want a token without --project.",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="The owner: the token never does more than they may."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="When it stops working: 30d, 12h, or a date.")
    ] = None,
    description: Annotated[str, typer.Option(help="What the token is for.")] = "",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    indexes = index or []
    with opened(data_dir, config) as runtime:
        if len(indexes) == 1:
            token_id, token = runtime.auth.create_token(
                IndexName(runtime.get_index_record(indexes[0]).name), description,
                user=user, actions=action, projects=project, expires_at=parse_expiry(expires),
            )  # fmt: skip
        else:
            token_id, token = runtime.auth.create_token(
                None, description, user=user, indexes=indexes or None, actions=action,
                projects=project, expires_at=parse_expiry(expires),
            )  # fmt: skip
        where = ", ".join(repr(i) for i in indexes) if indexes else "every index"
        out.print(
            f"Token {token_id} for {where}; use it as the password of user '__token__'."
            " It is not shown again:",
            highlight=False,
            soft_wrap=True,
        )
        out.file.flush()
        print(token, flush=True)


@token_app.command("list")
def token_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List tokens (never their secrets)."""
    with opened(data_dir, config) as runtime:
        grid = table(
            "id",
            "state",
            "owner",
            "indexes",
            "actions",
            "description",
            "expires",
            "last used",
        )
        for record in runtime.auth.list_tokens():
            scopes = record.scopes or {}
            indexes = scopes.get("indexes") or (
                [record.index] if record.index else ["(every index)"]
            )
            grid.add_row(
                str(record.id),
                "revoked" if record.revoked else "active",
                record.username or "-",
                ", ".join(indexes),
                ", ".join(scopes.get("actions", ["read", "upload"])),
                record.description,
                record.expires_at.strftime("%Y-%m-%d %H:%M") if record.expires_at else "never",
                record.last_used_at.strftime("%Y-%m-%d %H:%M") if record.last_used_at else "never",
            )
        out.print(grid)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see 'token list').")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a token."""
    if token_id < 1:
        fail("Token ids are positive numbers.")
    with opened(data_dir, config) as runtime:
        runtime.auth.revoke_token(token_id)
        out.print(f"Revoked token {token_id}.")
