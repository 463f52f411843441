"""The ``stilton`` command: argument parsing only; the work is done by the runtime and indexes.

Every command takes ``--data-dir`` (and ``--config``) and works while a server runs on the same
directory. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from stilton.cli.audit import audit_app
from stilton.cli.cache import cache_app
from stilton.cli.common import ConfigFile, DataDir, err, guarded, settings_for
from stilton.cli.indexes import index_app
from stilton.cli.packages import packages_app
from stilton.cli.tokens import token_app
from stilton.runtime import open_runtime

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
app.registered_commands += packages_app.registered_commands


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env: STILTON_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env: STILTON_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [env: STILTON_WORKERS].")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Run the server (embedded defaults: SQLite and files under the data directory)."""
    from granian import Granian
    from granian.constants import Interfaces

    settings = guarded(
        lambda: settings_for(data_dir, config, host=host, port=port, workers=workers)
    )
    guarded(lambda: open_runtime(settings).close())  # migrate and create the default layout once
    # Workers build their app from the environment (Granian's factory runs in each process).
    os.environ.update(
        {
            "STILTON_DATA_DIR": str(settings.data_dir),
            "STILTON_HOST": settings.host,
            "STILTON_PORT": str(settings.port),
        }
    )
    if config is not None:
        os.environ["STILTON_CONFIG"] = str(config)
    err.print(
        f"Stilton serving {settings.data_dir} on http://{settings.host}:{settings.port}/"
        f"  (pip install --index-url http://{settings.host}:{settings.port}/simple/ ...)",
        highlight=False,
    )
    Granian(
        "stilton.web.app:app_from_environ",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
    ).serve()


def main() -> None:
    app()
