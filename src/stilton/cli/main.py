"""The ``stilton`` command: argument parsing only; the work is done by the runtime and indexes.

Every command takes ``--data-dir`` (and ``--config``) and works while a server runs on the same
directory. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import gc as collector

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

app = typer.Typer(
    name="stilton",
    help="A private Python package index, caching proxy and mirror in one process.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(index_app, name="index")
app.add_typer(token_app, name="token")
app.add_typer(cache_app, name="cache")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(mirror_app, name="mirror")
app.registered_commands += packages_app.registered_commands
app.registered_commands += bundle_app.registered_commands


app.command()(serve)
app.command()(migrate)
app.command("migrate-storage")(migrate_storage)
app.command("check-storage")(check_storage)
app.command()(gc)
app.command()(backup)
app.command()(restore)


# Objects made between two collections of the youngest generation. A command's start is mostly
# imports, whose objects live as long as the process: at the interpreter's default (700), the
# collector spends a tenth of a short command's time looking for cycles among them. Cycles
# are still collected, only less often. (The server is a process of its own, with defaults.)
YOUNG_COLLECTION_THRESHOLD = 10_000


def main() -> None:
    _, older, oldest = collector.get_threshold()
    collector.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
    app()
