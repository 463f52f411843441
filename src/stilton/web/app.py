"""The ASGI application factory: ``create_app(settings)`` builds the runtime and the routes.

``app_from_environ`` is the factory Granian workers call; it is the only place that reads the
process environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from stilton.core.errors import StiltonError
from stilton.mirror.runs import MirrorHome
from stilton.mirror.schedule import run_schedule
from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.storage.changes import ChangeFeed
from stilton.web import files, health, jsonapi, simple, upload
from stilton.web.api import create_api
from stilton.web.errors import handle_stilton_error, handle_unexpected_error
from stilton.web.fastpath import FastPath
from stilton.web.forwarded import ForwardedHeaders, parse_trusted
from stilton.web.state import WebState, state_of

GET_HEAD = ["GET", "HEAD"]


async def home(request: Request) -> Response:
    """A plain landing page: the indexes and how to point clients at them."""
    state = state_of(request)
    base = str(request.base_url).rstrip("/")
    rows = "".join(
        f"<li><a href='/{r.name}/simple/'>{escape(r.name)}</a> ({r.kind})</li>"
        for r in await run_in_threadpool(state.runtime.list_indexes)
    )
    default = state.default_index
    return HTMLResponse(
        "<!DOCTYPE html><html><head><title>Stilton</title></head><body><h1>Stilton</h1>"
        f"<h2>Indexes</h2><ul>{rows}</ul><h2>Use this server</h2>"
        f"<pre>pip install --index-url {base}/simple/ PACKAGE\n"
        f"uv pip install --index-url {base}/simple/ PACKAGE\n"
        f"twine upload --repository-url {base}/{default}/ -u __token__ -p TOKEN dist/*</pre>"
        "</body></html>"
    )


async def index_home(request: Request) -> Response:
    return RedirectResponse(f"/{request.path_params['index']}/simple/", status_code=303)


async def oidc_audience(request: Request) -> Response:
    # pdm probes trusted publishing on any upload URL; say cleanly that there is none.
    return JSONResponse({"message": "Trusted publishing is not configured."}, 404)


def routes() -> list[Route]:
    return [
        Route("/", home, methods=GET_HEAD),
        Route("/-/health", health.health, methods=GET_HEAD),
        Route("/-/ready", health.ready, methods=GET_HEAD),
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
        Route("/{index}/", index_home, methods=GET_HEAD),
        Route("/{index}", index_home, methods=GET_HEAD),
    ]


class ApiPrefix:
    """Everything under ``/api`` goes to the admin API (whatever its path holds, newlines
    included, so the API answers its own errors)."""

    def __init__(self, app: Starlette, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    @property
    def state(self) -> object:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == "/api" or path.startswith("/api/")):
            scope = {**scope, "root_path": scope.get("root_path", "") + "/api"}
            await self.api(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> ASGIApp:
    runtime = open_runtime(settings)
    state = WebState.build(runtime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        poller = asyncio.get_running_loop().create_task(_follow_changes(runtime.feed))
        # Mirrors with --every sync in the background (one worker at a time per mirror).
        home = MirrorHome.of(runtime.database, runtime.blobs, settings)
        mirrors = asyncio.get_running_loop().create_task(run_schedule(home))
        yield
        mirrors.cancel()
        poller.cancel()
        await state.close()
        runtime.close()

    app = Starlette(
        routes=routes(),
        exception_handlers={StiltonError: handle_stilton_error, Exception: handle_unexpected_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.stilton = state
    served: ASGIApp = FastPath(ApiPrefix(app, create_api(state)), state)
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


def app_from_environ() -> ASGIApp:
    """Granian's factory: settings come from the ``STILTON_*`` variables set by the CLI."""
    settings = Settings.from_env(os.environ)  # noqa: TID251 - the one reader
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
