"""``stilton user``: add, change, list and remove users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, fail, opened, out, table

user_app = typer.Typer(help="Add, change, list and remove users.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        fail("No terminal to ask for a password: pass --password-stdin and pipe it in.")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="The login name.")],
    admin: Annotated[bool, typer.Option("--admin", help="May do everything.")] = False,
    group: Annotated[list[str] | None, typer.Option("--group", help="A group, repeatable.")] = None,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Add a user (the password is asked for, or read from standard input)."""
    password = read_password(password_stdin)
    with opened(data_dir, config) as runtime:
        user = runtime.auth.add_user(username, password, is_admin=admin, groups=group or [])
        out.print(f"Added user {user.username!r}{' (administrator)' if user.is_admin else ''}.")


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="The login name.")],
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Set a user's password."""
    password = read_password(password_stdin)
    with opened(data_dir, config) as runtime:
        runtime.auth.set_password(username, password)
        out.print(f"Changed the password of {username!r}.")


@user_app.command("set")
def user_set(
    username: Annotated[str, typer.Argument(help="The login name.")],
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="Administrator or not.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Replace the groups, repeatable.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Change whether a user is an administrator, and their groups."""
    with opened(data_dir, config) as runtime:
        runtime.auth.set_user(username, is_admin=admin, groups=group)
        out.print(f"Changed user {username!r}.")


@user_app.command("list")
def user_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List users (never their password hashes)."""
    with opened(data_dir, config) as runtime:
        grid = table("username", "administrator", "groups", "created")
        for user in runtime.auth.list_users():
            grid.add_row(
                user.username,
                "yes" if user.is_admin else "",
                ", ".join(user.groups),
                user.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        out.print(grid)


@user_app.command("remove")
def user_remove(
    username: Annotated[str, typer.Argument(help="The login name.")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Remove a user and their tokens."""
    with opened(data_dir, config) as runtime:
        runtime.auth.remove_user(username)
        out.print(f"Removed user {username!r}.")
