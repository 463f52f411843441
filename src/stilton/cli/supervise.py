"""The process that supervises the server's workers (``stilton serve`` execs it): Granian with
Stilton's ASGI app factory, configured from the ``STILTON_*`` environment. It imports nothing
of Stilton but its settings, so it stays small; each worker builds the app itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

from stilton.settings import SUPERVISOR_PID_VARIABLE, Settings
from stilton.web.log_format import granian_logging


def share_metrics(settings: Settings) -> None:
    """Several workers count into files of a directory every scrape reads (prometheus-client's
    multi-process mode); it is made afresh at each start, so no dead worker's counts linger.
    Workers inherit the variable, which prometheus-client reads when it is imported."""
    shutil.rmtree(settings.metrics_dir, ignore_errors=True)
    if settings.worker_count > 1 and settings.metrics_access != "off":
        settings.metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.metrics_dir)
    else:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def main() -> None:
    settings = Settings.from_env(os.environ)
    share_metrics(settings)
    os.environ[SUPERVISOR_PID_VARIABLE] = str(os.getpid())  # the workers stop when it is gone
    Granian(
        "stilton.web.app:app_from_environ",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.worker_count,
        # A worker that dies (the OOM killer, a crash) is replaced; the others serve meanwhile.
        # (Granian's default stops the whole server; it still stops on a crash loop.)
        respawn_failed_workers=True,
        workers_kill_timeout=settings.shutdown_timeout,
        log_access=False,  # Stilton's own request log (stilton.access) says more
        log_dictconfig=granian_logging(settings.log_format),
        ssl_cert=Path(settings.tls_cert) if settings.tls_cert else None,
        ssl_key=Path(settings.tls_key) if settings.tls_key else None,
        ssl_ca=Path(settings.tls_client_ca) if settings.tls_client_ca else None,
        ssl_client_verify=settings.tls_client_cert == "required",
    ).serve()


if __name__ == "__main__":
    main()
