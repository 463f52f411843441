"""A project's page for people: ``/<index>/<project>/`` and ``/<index>/<project>/<version>/``
(the URL hatch prints after an upload), and ``/<index>//<project>`` (flit's). Tools asking
these URLs are sent to the project's Simple API page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.core.errors import AuthenticationRequired, NotFound
from stilton.core.names import ProjectName, is_valid_project_name, normalize_project_name
from stilton.core.permissions import Action
from stilton.indexes.base import Index
from stilton.web.auth import authorize, authorize_sources
from stilton.web.state import index_of
from stilton.web.ui.access import to_login, viewer
from stilton.web.ui.index_page import base_url
from stilton.web.ui.negotiate import wants_page
from stilton.web.ui.project_view import ProjectPage, build_page, page_key
from stilton.web.ui.render import page
from stilton.web.ui.state import ui_of


def _name(request: Request) -> ProjectName:
    raw = request.path_params["project"]
    if not is_valid_project_name(raw):
        raise NotFound(f"{raw!r} is not a valid project name.")
    return normalize_project_name(raw)


async def _page(
    request: Request, index: Index, name: ProjectName, version: str | None
) -> ProjectPage:
    """The page, from the cache while nothing it shows changed; the reader is checked against
    every member it comes from either way."""
    ui = ui_of(request)
    key = page_key(name, version)
    cached = ui.views.get(index.name, key)
    if isinstance(cached, ProjectPage):
        await authorize_sources(request, index, name, cached.sources)
        return cached
    stamp = ui.web.versions.stamp(index.name, name)
    view = await index.find_project(name)
    if view is None:
        raise NotFound(f"There is no project {name!r} in index {index.name!r}.")
    await authorize_sources(request, index, name, view.sources)
    built = await build_page(ui, index, view, version, base_url(request))
    if view.stale is None:
        ui.views.put(index.name, key, built, project=name, stamp=stamp, ttl=view.fresh_for)
    return built


async def project(request: Request) -> Response:
    name = _name(request)
    index_name, version = request.path_params["index"], request.path_params.get("version")
    if not wants_page(request.headers.get("accept")):
        return RedirectResponse(f"/{index_name}/simple/{name}/", status_code=303)
    if name != request.path_params["project"] or not request.url.path.endswith("/"):
        suffix = f"{version}/" if version else ""
        return RedirectResponse(f"/{index_name}/{name}/{suffix}", status_code=301)
    await viewer(request)
    index = await index_of(request)
    try:
        await authorize(request, index, Action.READ, name)
        shown = await _page(request, index, name, version)
    except AuthenticationRequired:
        return to_login(request)
    latest = shown.versions[0].version if shown.versions else None
    simple_url = f"{base_url(request)}/{index.name}/simple/"
    return page(
        request,
        "project.html",
        p=shown,
        index=index.name,
        kind=index.kind.value,
        latest=latest,
        simple_url=simple_url,
    )


async def flit_project(request: Request) -> Response:
    """flit prints ``<upload URL>/<project>``, and so ``/<index>//<project>``."""
    name = _name(request)
    return RedirectResponse(f"/{request.path_params['index']}/{name}/", status_code=301)
