"""``stilton serve``: prepare the data directory, then run the app on Granian (HTTP or HTTPS,
with mutual TLS if asked)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, err, fail, guarded, settings_for
from stilton.settings import Settings


def _prepare(settings: Settings) -> None:
    """Migrate, create the default layout, and make the first administrator (in a process of
    its own, so that the server's supervising process never imports the whole server)."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        generated = pool.apply(_prepared, (settings,))
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
    from granian import Granian
    from granian.constants import Interfaces

    settings = guarded(
        lambda: settings_for(
            data_dir, config, host=host, port=port, workers=workers,
            tls_cert=tls_cert and str(tls_cert), tls_key=tls_key and str(tls_key),
            tls_client_ca=tls_client_ca and str(tls_client_ca), tls_client_cert=tls_client_cert,
        )
    )  # fmt: skip
    _check_tls(settings)
    guarded(lambda: _prepare(settings))
    # Workers build their app from the environment (Granian's factory runs in each process).
    os.environ.update({"STILTON_DATA_DIR": str(settings.data_dir)})
    if config is not None:
        os.environ["STILTON_CONFIG"] = str(config)
    scheme = "https" if settings.tls_cert else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    err.print(
        f"Stilton serving {settings.data_dir} on {base}/"
        f"  (pip install --index-url {base}/simple/ ...)",
        highlight=False,
    )
    Granian(
        "stilton.web.app:app_from_environ",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.worker_count,
        log_access=False,
        ssl_cert=Path(settings.tls_cert) if settings.tls_cert else None,
        ssl_key=Path(settings.tls_key) if settings.tls_key else None,
        ssl_ca=Path(settings.tls_client_ca) if settings.tls_client_ca else None,
        ssl_client_verify=settings.tls_client_cert == "required",
    ).serve()


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
