"""The ``stilton`` command: argument parsing only; the work is done by the runtime and indexes.

Every command takes ``--data-dir`` (and ``--config``) and works while a server runs on the same
directory. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from stilton.cli.audit import audit_app
from stilton.cli.backup import backup, restore
from stilton.cli.bundles import bundle_app
from stilton.cli.cache import cache_app
from stilton.cli.gc import gc
from stilton.cli.indexes import index_app
from stilton.cli.mirror import mirror_app
from stilton.cli.packages import packages_app
from stilton.cli.serve import serve
from stilton.cli.storage import check_storage, migrate, migrate_storage
from stilton.cli.tokens import token_app
from stilton.cli.users import user_app
from stilton.core.collector import collect_young_less_often

# The command groups, by name (``stilton index ...``).
GROUPS = {
    "index": index_app,
    "token": token_app,
    "cache": cache_app,
    "audit": audit_app,
    "user": user_app,
    "mirror": mirror_app,
}


def _command_line() -> typer.Typer:
    return typer.Typer(
        name="stilton",
        help="A private Python package index, caching proxy and mirror in one process.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


app = _command_line()
for group_name, group_app in GROUPS.items():
    app.add_typer(group_app, name=group_name)
app.registered_commands += packages_app.registered_commands
app.registered_commands += bundle_app.registered_commands


app.command()(serve)
app.command()(migrate)
app.command("migrate-storage")(migrate_storage)
app.command("check-storage")(check_storage)
app.command()(gc)
app.command()(backup)
app.command()(restore)


def main() -> None:
    # A command's start is mostly imports, whose objects live as long as the process.
    collect_young_less_often()
    app_for(sys.argv[1:])()


def app_for(args: Sequence[str]) -> typer.Typer:
    """The command line that runs ``args``: for a command of a group (``index list``), one
    with that group alone, whose usage and messages are the same. Typer reads the signature of
    every command it holds before it runs one; a group's are read in a fraction of the time
    all of them take."""
    group = GROUPS.get(args[0]) if args else None
    if group is None:
        return app
    alone = _command_line()
    alone.add_typer(group, name=args[0])
    return alone
