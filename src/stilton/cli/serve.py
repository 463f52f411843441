"""``stilton serve``: prepare the data directory, then run the app on Granian (HTTP or HTTPS,
with mutual TLS if asked)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, err, fail, guarded, settings_for
from stilton.core.permissions import MIN_PASSWORD
from stilton.settings import Settings

MALLOC_ARENAS = "2"  # glibc heaps per worker process, unless the operator sets MALLOC_ARENA_MAX


def _check_admin_password(settings: Settings) -> None:
    """Refused before anything is made: a first start with a password the administrator could
    not have would leave a data directory without one."""
    given = settings.admin_password
    if given and len(given) < MIN_PASSWORD:
        fail(
            f"STILTON_ADMIN_PASSWORD (the setting admin_password) has {len(given)} character(s);"
            f" the first administrator's password needs at least {MIN_PASSWORD}. Set a longer"
            " one, or unset it to have one generated and printed once."
        )


def _prepare(settings: Settings) -> None:
    """Migrate, create the default layout, and make the first administrator (in a process of
    its own, so that the server's supervising process never imports the whole server). A data
    directory this start created is removed again if that fails, so no half-made one stays."""
    import multiprocessing  # here: every other command would import it for nothing

    created = not settings.data_dir.exists()
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            generated = pool.apply(_prepared, (settings,))
    except BaseException:
        if created:
            shutil.rmtree(settings.data_dir, ignore_errors=True)
        raise
    if generated:
        err.print(
            "Created the administrator 'admin' with this password (shown once; change it with"
            f" 'stilton user passwd admin'):\n{generated}",
            highlight=False,
        )


def _prepared(settings: Settings) -> str | None:
    from stilton.runtime import open_runtime

    runtime = open_runtime(settings)
    try:
        return runtime.auth.ensure_admin(settings.admin_password or None)
    finally:
        runtime.close()


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env: STILTON_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env: STILTON_PORT].")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes; 0: one per core (the default) [env: STILTON_WORKERS]."
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")
    ] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option("--tls-client-ca", help="CA of client certificates (mutual TLS).")
    ] = None,
    tls_client_cert: Annotated[
        str | None,
        typer.Option("--tls-client-cert", help="'required': refuse clients without a certificate."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Run the server (embedded defaults: SQLite and files under the data directory)."""
    flags = {
        "host": host, "port": port, "workers": workers,
        "tls_cert": tls_cert and str(tls_cert), "tls_key": tls_key and str(tls_key),
        "tls_client_ca": tls_client_ca and str(tls_client_ca), "tls_client_cert": tls_client_cert,
    }  # fmt: skip
    settings = guarded(lambda: settings_for(data_dir, config, **flags))
    _check_tls(settings)
    _check_admin_password(settings)
    guarded(lambda: _prepare(settings))
    scheme = "https" if settings.tls_cert else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    err.print(
        f"Stilton serving {settings.data_dir} on {base}/"
        f"  (pip install --index-url {base}/simple/ ...)",
        highlight=False,
    )
    # The server's workers, and the process that supervises them, read their settings from
    # the environment; the supervisor is a process of its own (exec), so that it holds none of
    # the command line's imports.
    chosen = {"data_dir": str(settings.data_dir), "config": config and str(config), **flags}
    os.environ.update(
        {f"STILTON_{name.upper()}": str(value) for name, value in chosen.items() if value}
    )
    # glibc reads this when a process starts: it gives each thread of a worker its own heap
    # up to 8 per core otherwise, and memory freed in one is not reused by the others (a cold
    # install of ~100 big pages peaked at ~390 MB in one worker; with 2 heaps, ~300 MB).
    os.environ.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENAS)
    err.file.flush()
    os.execv(sys.executable, [sys.executable, "-m", "stilton.cli.supervise"])  # noqa: S606


def _check_tls(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        fail("HTTPS needs both --tls-cert and --tls-key.")
    for path in (settings.tls_cert, settings.tls_key, settings.tls_client_ca):
        if path and not Path(path).is_file():
            fail(f"{path} is not a readable file.")
    if settings.tls_client_cert not in ("", "required", "optional"):
        fail("--tls-client-cert takes 'required' (or 'optional').")
    if settings.tls_client_cert == "optional":
        fail(
            "Optional client certificates are not supported by the server engine (Granian asks"
            " every client for one or none); use 'required', or terminate TLS at a reverse"
            " proxy and set trusted_proxies."
        )
    if settings.tls_client_cert and not settings.tls_client_ca:
        fail("--tls-client-cert needs --tls-client-ca.")
    if settings.tls_client_ca and not settings.tls_cert:
        fail("Mutual TLS needs HTTPS: give --tls-cert and --tls-key too.")
