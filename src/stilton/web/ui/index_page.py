"""An index's page for people (``/<index>/`` asked by a browser): its projects, what it is,
who may use it, its policy, and how to point each client at it. Tools asking the same URL keep
their redirect to the Simple API."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.core.errors import AuthenticationRequired
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.permissions import Action
from stilton.indexes.base import Index
from stilton.web.auth import authorize
from stilton.web.state import index_of, state_of
from stilton.web.ui.access import to_login, viewer
from stilton.web.ui.describe import access_of, policy_of, summary_of, upstream_url
from stilton.web.ui.listing import listing_of, page_of
from stilton.web.ui.negotiate import wants_page
from stilton.web.ui.render import page
from stilton.web.ui.snippets import Snippet, SnippetKind, Target, snippets_for


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _by_tool(snippets: list[Snippet], kind: SnippetKind) -> list[tuple[str, list[Snippet]]]:
    chosen = [s for s in snippets if s.kind is kind]
    order = {tool: n for n, tool in enumerate(dict.fromkeys(s.tool for s in chosen))}
    chosen.sort(key=lambda s: order[s.tool])
    return [(tool, list(items)) for tool, items in groupby(chosen, key=lambda s: s.tool)]


def _about(request: Request, index: Index) -> dict[str, Any]:
    config = IndexConfig.from_mapping(index.record.config)
    built = state_of(request).built(index.name)
    snippets = snippets_for(
        Target(base_url(request), index.name, index.uploads() is not None, not built.public)
    )
    return {
        "name": index.name,
        "kind": index.kind.value,
        "summary": summary_of(index.record),
        "private": not built.acl.is_public,
        "members": list(config.members),
        "rules": [rule.describe() for rule in config.rules],
        "upstream": upstream_url(config.upstream) if config.upstream else None,
        "access": access_of(config.acl),
        "policy": policy_of(config.policy),
        "install": _by_tool(snippets, SnippetKind.INSTALL),
        "publish": _by_tool(snippets, SnippetKind.PUBLISH),
        "hosted_members": [m.name for m in index.leaves() if m.kind is IndexKind.HOSTED],
    }


def _number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 1


async def index_home(request: Request) -> Response:
    """Browsers get the page; tools their redirect to the Simple API (as before)."""
    if not wants_page(request.headers.get("accept")):
        return RedirectResponse(f"/{request.path_params['index']}/simple/", status_code=303)
    if not request.url.path.endswith("/"):
        return RedirectResponse(request.url.path + "/", status_code=301)
    await viewer(request)
    index = await index_of(request)
    try:
        await authorize(request, index, Action.READ)
    except AuthenticationRequired:
        return to_login(request)
    listing = await listing_of(request, index)
    shown = page_of(
        listing, request.query_params.get("sort", "name"), _number(request.query_params.get("page"))
    )
    return page(request, "index.html", listing=shown, **_about(request, index))
