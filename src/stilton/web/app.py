"""The ASGI application factory: ``create_app(settings)`` builds the runtime and the routes.

``app_from_environ`` is the factory Granian workers call; it is the only place that reads the
process environment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from stilton.core.collector import collect_young_less_often
from stilton.core.errors import StiltonError
from stilton.mirror.runs import MirrorHome
from stilton.mirror.schedule import run_schedule
from stilton.runtime import open_runtime
from stilton.settings import SUPERVISOR_PID_VARIABLE, Settings
from stilton.storage.changes import ChangeFeed
from stilton.web import files, health, jsonapi, metrics_route, simple, upload
from stilton.web.api import create_api
from stilton.web.errors import handle_http_error, handle_stilton_error, handle_unexpected_error
from stilton.web.fastpath import FastPath
from stilton.web.forwarded import ForwardedHeaders, parse_trusted
from stilton.web.log_format import configure_logging, flush_logs
from stilton.web.metrics import Metrics
from stilton.web.request_log import RequestLog
from stilton.web.state import WebState
from stilton.web.ui import index_page
from stilton.web.ui import routes as ui_routes
from stilton.web.ui.sessions import SessionPrincipal
from stilton.web.ui.state import UiState

GET_HEAD = ["GET", "HEAD"]
API_DOCS = "/api/docs"  # the web interface's page of the API's schema (works offline)


async def oidc_audience(request: Request) -> Response:
    # pdm probes trusted publishing on any upload URL; say cleanly that there is none.
    return JSONResponse({"message": "Trusted publishing is not configured."}, 404)


def routes() -> list[Route]:
    return [
        *ui_routes.fixed_routes(),
        Route("/-/health", health.health, methods=GET_HEAD),
        Route("/-/ready", health.ready, methods=GET_HEAD),
        Route("/-/metrics", metrics_route.serve_metrics, methods=GET_HEAD),
        Route("/_/oidc/audience", oidc_audience, methods=GET_HEAD),
        Route("/simple/", simple.project_list, methods=GET_HEAD),
        Route("/simple", simple.add_slash, methods=GET_HEAD),
        Route("/simple/{project}/", simple.project_detail, methods=GET_HEAD),
        Route("/simple/{project}", simple.add_slash, methods=GET_HEAD),
        # An index's JSON API before the default index's alias: the "pypi" proxy's own
        # /pypi/pypi/<project>/json must not be read as the alias for a project "pypi".
        Route("/{index}/pypi/{project}/json", jsonapi.project_json, methods=GET_HEAD),
        Route("/{index}/pypi/{project}/json/", jsonapi.project_json, methods=GET_HEAD),
        Route("/{index}/pypi/{project}/{version}/json", jsonapi.project_json, methods=GET_HEAD),
        Route("/{index}/pypi/{project}/{version}/json/", jsonapi.project_json, methods=GET_HEAD),
        Route("/pypi/{project}/json", jsonapi.project_json, methods=GET_HEAD),
        Route("/pypi/{project}/json/", jsonapi.project_json, methods=GET_HEAD),
        Route("/pypi/{project}/{version}/json", jsonapi.project_json, methods=GET_HEAD),
        Route("/pypi/{project}/{version}/json/", jsonapi.project_json, methods=GET_HEAD),
        Route("/{index}/simple/", simple.project_list, methods=GET_HEAD),
        Route("/{index}/simple", simple.add_slash, methods=GET_HEAD),
        Route("/{index}/simple/{project}/", simple.project_detail, methods=GET_HEAD),
        Route("/{index}/simple/{project}", simple.add_slash, methods=GET_HEAD),
        # hatch looks for existing files at devpi's "+simple" before it publishes.
        Route("/{index}/+simple/", simple.project_list, methods=GET_HEAD),
        Route("/{index}/+simple/{project}/", simple.project_detail, methods=GET_HEAD),
        Route("/{index}/files/{sha256}/{filename}", files.serve_file, methods=GET_HEAD),
        # Uploads are accepted with or without the slash: uploaders do not follow redirects.
        Route("/{index}/", upload.upload, methods=["POST"]),
        Route("/{index}", upload.upload, methods=["POST"]),
        Route("/{index}/legacy/", upload.upload, methods=["POST"]),
        Route("/{index}/legacy", upload.upload, methods=["POST"]),
        Route("/{index}/legacy/", upload.upload_help, methods=GET_HEAD),
        # Browsers get the index's page; tools their redirect to the Simple API.
        Route("/{index}/", index_page.index_home, methods=GET_HEAD),
        Route("/{index}", index_page.index_home, methods=GET_HEAD),
        *ui_routes.project_routes(),
    ]


class ApiPrefix:
    """Everything under ``/api`` goes to the admin API (whatever its path holds, newlines
    included, so the API answers its own errors)."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    @property
    def state(self) -> object:
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path != API_DOCS
            and (path == "/api" or path.startswith("/api/"))
        ):
            scope = {**scope, "root_path": scope.get("root_path", "") + "/api"}
            await self.api(scope, receive, send)
            return
        await self.app(scope, receive, send)


def tune_collector() -> None:
    """Set the cyclic garbage collector for a server whose work is big pages: parsing one
    upstream page makes tens of thousands of objects, and a parsed page is kept. What the
    start made (modules, the app, the database engine) is moved out of its sight
    (``gc.freeze``) after a last collection, and new objects are looked at less often; in a
    cold install of ~100 projects, collection went from 1.7 s of CPU to ~0.3 s."""
    gc.collect()
    gc.freeze()
    collect_young_less_often()


def create_app(
    settings: Settings,
    metrics_dir: Path | None = None,
    *,
    prepare: bool = False,
    supervisor: int | None = None,
) -> ASGIApp:
    """The app; ``metrics_dir`` is where a server's workers keep their counts, if they share
    them (PROMETHEUS_MULTIPROC_DIR); ``prepare``: build the default index at startup (a
    served process); ``supervisor``: the pid of the process whose worker this is, which it
    does not outlive."""
    runtime = open_runtime(settings)
    counting = settings.metrics_access != "off"
    metrics = Metrics(metrics_dir)
    if counting:
        runtime.telemetry = metrics
    state = WebState.build(runtime, metrics)
    api = create_api(state)
    ui = UiState.build(state, api.openapi)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Mirrors with --every sync in the background (one worker at a time per mirror).
        home = MirrorHome.of(runtime.database, runtime.blobs, settings)
        background = [_follow_changes(runtime.feed), ui.search.follow(), run_schedule(home)]
        if supervisor is not None:
            background.append(_follow_supervisor(supervisor))
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(work) for work in background]
        if prepare:
            await _prepare(state)
        yield
        for task in tasks:
            task.cancel()
        await state.close()
        await runtime.upstream_health.aclose()
        runtime.close()
        flush_logs()

    app = Starlette(
        routes=routes(),
        exception_handlers={
            StiltonError: handle_stilton_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected_error,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.stilton = state
    app.state.ui = ui
    served: ASGIApp = FastPath(ApiPrefix(SessionPrincipal(app, ui.sessions), api), state)
    # Outside the fast path, so its answers are logged too; inside ForwardedHeaders, so the
    # client address is the real one.
    served = RequestLog(served, metrics.answered if counting else None)
    if settings.trusted_proxies:
        served = ForwardedHeaders(
            served, parse_trusted(settings.trusted_proxies), settings.client_cert_header
        )
    return served


async def _follow_changes(feed: ChangeFeed) -> None:
    """Hear other processes' changes every poll interval, requests or not, so nothing cached
    outlives a change elsewhere by more than the interval."""
    if feed.interval <= 0:
        return  # every cache lookup polls (tests)
    while True:
        await asyncio.sleep(feed.interval)
        try:
            await run_in_threadpool(feed.poll)
        except StiltonError as exc:
            logging.getLogger("stilton.changes").warning("cannot read the change feed: %s", exc)


SUPERVISOR_CHECK = 1.0  # seconds between looks at whether the supervising process lives


async def _follow_supervisor(supervisor: int) -> None:
    """Stop once the supervising process is gone. Killed at once (SIGKILL, the OOM killer, a
    process manager that signals only the pid it started), it cannot stop its workers, which
    would otherwise go on serving, unsupervised, on the port a new server takes."""
    while os.getppid() == supervisor:
        await asyncio.sleep(SUPERVISOR_CHECK)
    logging.getLogger("stilton.web").warning(
        "the supervising process %d is gone; this worker stops", supervisor
    )
    os.kill(os.getpid(), signal.SIGTERM)  # the server's own graceful stop


async def _prepare(state: WebState) -> None:
    """Build the default index (and its members: a proxy's upstream client, its TLS contexts,
    the modules only proxies need) before the first request: a fresh worker's first page
    otherwise waits ~70 ms for it. An index that cannot be built now is built, or fails with
    its own message, when a request asks for it."""
    try:
        await state.index(state.default_index)
    except Exception as exc:  # never a reason not to start
        logging.getLogger("stilton.web").info(
            "the default index %r will be built when first asked for: %s",
            state.default_index,
            exc,
        )


def app_from_environ() -> ASGIApp:
    """Granian's factory: settings come from the ``STILTON_*`` variables set by the CLI."""
    settings = Settings.from_env(os.environ)  # noqa: TID251 - the one reader
    configure_logging(settings.log_level, settings.log_format, settings.access_log)
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")  # noqa: TID251 - set by the supervisor
    # Set by `stilton serve`'s supervisor (a worker that starts after it died sees another
    # parent). An app run by another server in its own process follows no one.
    supervisor = os.environ.get(SUPERVISOR_PID_VARIABLE)  # noqa: TID251 - set by the supervisor
    app = create_app(
        settings,
        Path(shared) if shared else None,
        prepare=True,
        supervisor=int(supervisor) if supervisor else None,
    )
    tune_collector()  # a served process only: tests make many apps in one process
    return app
