"""Simple API routes (PEP 503/691): the project list and project pages of an index.

Pages are rendered once per index generation and served from memory as bytes with a strong
ETag; ``If-None-Match`` answers 304 (DESIGN.md, "The hot path").
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.core.errors import NotFound
from stilton.core.names import is_valid_project_name, normalize_project_name
from stilton.core.negotiation import SimpleFormat, select_format
from stilton.core.render_simple import (
    render_project_detail_html,
    render_project_detail_json,
    render_project_list_html,
    render_project_list_json,
)
from stilton.indexes.hosted import HostedIndex
from stilton.web.state import RenderedPage, WebState, index_of, state_of

SERIAL_HEADER = "X-PyPI-Last-Serial"


def make_etag(body: bytes) -> str:
    digest = hashlib.blake2b(body, digest_size=16).digest()
    return '"' + base64.urlsafe_b64encode(digest).rstrip(b"=").decode() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


def page_response(request: Request, page: RenderedPage, fmt: SimpleFormat) -> Response:
    settings = state_of(request).runtime.settings
    headers = {
        "ETag": page.etag,
        "Vary": "Accept",
        # The visibility delay of a new upload for caching clients (pip >= 26.2, uv, poetry).
        "Cache-Control": f"max-age={settings.page_max_age}, public",
        SERIAL_HEADER: str(page.serial),
    }
    if etag_matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body, 200, headers, media_type=fmt.content_type)


async def _cached(
    state: WebState,
    index: HostedIndex,
    key: tuple[str | None, str],
    render: Callable[[], tuple[bytes, int] | None],
) -> RenderedPage | None:
    page = state.pages.get(index.name, key)
    if page is None:
        generation = state.generations.current(index.name)
        rendered = await run_in_threadpool(render)
        if rendered is None:
            return None
        body, serial = rendered
        page = RenderedPage(body, make_etag(body), serial)
        state.pages.put(index.name, key, generation, page)
    return page


def _format(request: Request) -> SimpleFormat:
    return select_format(request.headers.get("accept"), request.query_params.get("format"))


async def project_list(request: Request) -> Response:
    fmt = _format(request)
    index = await index_of(request)

    def render() -> tuple[bytes, int]:
        projects, serial = index.list_projects()
        if fmt.is_json:
            return render_project_list_json(projects, serial), serial
        return render_project_list_html(projects), serial

    page = await _cached(state_of(request), index, (None, fmt.value), render)
    assert page is not None
    return page_response(request, page, fmt)


async def project_detail(request: Request) -> Response:
    raw_name = request.path_params["project"]
    if not is_valid_project_name(raw_name):
        raise NotFound(f"{raw_name!r} is not a valid project name.")
    name = normalize_project_name(raw_name)
    if name != raw_name:
        # PEP 503: redirect to the normalized name.
        prefix = request.url.path[: request.url.path.rindex(raw_name)]
        return _redirect(request, f"{prefix}{name}/")
    fmt = _format(request)
    index = await index_of(request)

    def render() -> tuple[bytes, int] | None:
        detail = index.find_project(name)
        if detail is None:
            return None
        if fmt.is_json:
            return render_project_detail_json(detail), detail.last_serial
        return render_project_detail_html(detail), detail.last_serial

    page = await _cached(state_of(request), index, (name, fmt.value), render)
    if page is None:
        raise NotFound(f"Project {name!r} is not in index {index.name!r}.")
    return page_response(request, page, fmt)


def _redirect(request: Request, path: str) -> Response:
    query = request.url.query
    return RedirectResponse(path + (f"?{query}" if query else ""), status_code=301)


async def add_slash(request: Request) -> Response:
    """Simple API URLs end in '/'; the slash-less form redirects permanently, straight to the
    normalized project name where there is one."""
    path = request.url.path
    raw_name = request.path_params.get("project")
    if raw_name and is_valid_project_name(raw_name):
        path = path[: path.rindex(raw_name)] + normalize_project_name(raw_name)
    return _redirect(request, path + "/")
