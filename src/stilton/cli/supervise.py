"""The process that supervises the server's workers (``stilton serve`` execs it): Granian with
Stilton's ASGI app factory, configured from the ``STILTON_*`` environment. It imports nothing
of Stilton but its settings, so it stays small; each worker builds the app itself."""

from __future__ import annotations

import os
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

from stilton.settings import Settings
from stilton.web.log_format import granian_logging


def main() -> None:
    settings = Settings.from_env(os.environ)
    Granian(
        "stilton.web.app:app_from_environ",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.worker_count,
        log_access=False,  # Stilton's own request log (stilton.access) says more
        log_dictconfig=granian_logging(settings.log_format),
        ssl_cert=Path(settings.tls_cert) if settings.tls_cert else None,
        ssl_key=Path(settings.tls_key) if settings.tls_key else None,
        ssl_ca=Path(settings.tls_client_ca) if settings.tls_client_ca else None,
        ssl_client_verify=settings.tls_client_cert == "required",
    ).serve()


if __name__ == "__main__":
    main()
