"""Simple API routes (PEP 503/691): the project list and project pages of an index.

Pages are rendered once per index generation and served from memory as bytes with a strong
ETag; ``If-None-Match`` answers 304 (DESIGN.md, "The hot path").
"""

from __future__ import annotations

import base64
import gzip
import hashlib

from isal import igzip
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.core.errors import NotFound
from stilton.core.names import (
    IndexName,
    ProjectName,
    is_valid_project_name,
    normalize_project_name,
)
from stilton.core.negotiation import SimpleFormat, select_format
from stilton.core.permissions import Action
from stilton.core.render_simple import (
    render_project_detail_html,
    render_project_detail_json,
    render_project_list_html,
    render_project_list_json,
)
from stilton.indexes.base import Index, ProjectView
from stilton.web.auth import authorize, authorize_sources, readable_members
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


STALE_HEADER = "X-Stilton-Stale"


def page_response(request: Request, page: RenderedPage, fmt: SimpleFormat) -> Response:
    settings = state_of(request).runtime.settings
    compressed = page.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding"))
    headers = {
        "ETag": page.gzip_etag if compressed else page.etag,
        "Vary": "Accept, Accept-Encoding",
        # The visibility delay of a new upload for caching clients (pip >= 26.2, uv, poetry).
        "Cache-Control": f"max-age={settings.page_max_age}, {visibility(request, page.sources)}",
        SERIAL_HEADER: str(page.serial),
    }
    if page.stale is not None:
        # stale-if-error: say that this copy is old, since when, and why.
        headers[STALE_HEADER] = (
            f"since={page.stale.fetched_at.isoformat(timespec='seconds')}; "
            f"reason={page.stale.reason[:200]!r}"
        )
        headers["Cache-Control"] = "no-cache"
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = "gzip"
        return Response(page.gzipped, 200, headers, media_type=fmt.content_type)
    return Response(page.body, 200, headers, media_type=fmt.content_type)


def visibility(request: Request, sources: frozenset[IndexName] = frozenset()) -> str:
    """Pages of a private index (or made from one) may be cached by the client only, never by
    a shared cache."""
    index = request.path_params.get("index", state_of(request).default_index)
    built = state_of(request).built(index)
    return "public" if built.acl.is_public and built.readable_by_anyone(sources) else "private"


def _format(request: Request) -> SimpleFormat:
    return select_format(request.headers.get("accept"), request.query_params.get("format"))


SMALL_PAGE_FILES = 100  # a page of this many files is rendered at once, not in a thread
GZIP_MIN_SIZE = 1024  # bytes; smaller pages are sent as they are
# Big pages are compressed by ISA-L (its level 1: a 7 MB page in ~7 ms against ~40 ms for
# zlib's level 1, and ~10% smaller), and kept in memory compressed only.
GZIP_FAST_SIZE = 256 * 1024


def _gzip(body: bytes) -> bytes | None:
    if len(body) < GZIP_MIN_SIZE:
        return None
    if len(body) < GZIP_FAST_SIZE:
        return gzip.compress(body, 6, mtime=0)
    return igzip.compress(body, 1, mtime=0)


def _rendered(body: bytes, serial: int, view: ProjectView | None = None) -> RenderedPage:
    big = len(body) >= GZIP_FAST_SIZE
    gzipped = _gzip(body)
    plain = None if big else body  # a big page is kept compressed only
    if view is None:
        return RenderedPage(plain, make_etag(body), serial, None, gzipped)
    return RenderedPage(plain, make_etag(body), serial, view.stale, gzipped, view.sources)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether gzip is acceptable (RFC 9110 §12.5.3; a q of 0 refuses it)."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def project_list(request: Request) -> Response:
    fmt = _format(request)
    state, index = state_of(request), await index_of(request)
    await authorize(request, index, Action.READ)
    within = await _within(request, index)
    page = state.pages.get(index.name, (None, fmt.value, within))
    _count_lookup(state, page)
    if page is None:
        stamp = state.versions.stamp(index.name)
        listing = await index.list_projects(within)
        if fmt.is_json:
            body = render_project_list_json(listing.projects, listing.last_serial)
        else:
            body = render_project_list_html(listing.projects)
        page = _rendered(body, listing.last_serial)
        state.pages.put(index.name, (None, fmt.value, within), page, project=None, stamp=stamp)
    return page_response(request, page, fmt)


def _count_lookup(state: WebState, page: RenderedPage | None) -> None:
    if page is None:
        state.metrics.page_cache_miss()
    else:
        state.metrics.page_cache_hit()


async def _within(request: Request, index: Index) -> frozenset[IndexName] | None:
    """The members whose project names the asker may see (None: all of them)."""
    built = state_of(request).built(index.name)
    if built.public:
        return None
    readable = await readable_members(request, index)
    return None if readable == frozenset(built.acls) else readable


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
    state, index = state_of(request), await index_of(request)
    await authorize(request, index, Action.READ)
    page = state.pages.get(index.name, (name, fmt.value, None))
    _count_lookup(state, page)
    if page is None:
        # Concurrent misses for one page share one render (a 10,000-file page takes a while).
        page = await state.renders.run(
            (index.name, name, fmt.value), lambda: _render_detail(state, index, name, fmt)
        )
    await authorize_sources(request, index, name, page.sources)
    return page_response(request, page, fmt)


async def _render_detail(
    state: WebState, index: Index, name: ProjectName, fmt: SimpleFormat
) -> RenderedPage:
    stamp = state.versions.stamp(index.name, name)
    view = await index.find_project(name)
    if view is None:
        raise NotFound(f"Project {name!r} is not in index {index.name!r}.")
    render = render_project_detail_json if fmt.is_json else render_project_detail_html
    # Rendering and compressing a large page runs off the event loop, so cache hits go on; a
    # small one is rendered at once.
    page = await state.runtime.cpu_slots.run(
        lambda: _rendered(render(view.detail), view.detail.last_serial, view),
        small=len(view.detail.files) <= SMALL_PAGE_FILES,
    )
    if view.stale is None:
        key = (name, fmt.value, None)
        state.pages.put(index.name, key, page, project=name, stamp=stamp, ttl=view.fresh_for)
    return page


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
