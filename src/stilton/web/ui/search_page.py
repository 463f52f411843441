"""``/search?q=``: projects of every hosted and proxy index the reader may read, by name
(exact, prefix, fuzzy) and by the words of their summaries; a project an index's policy hides
is left out."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.names import ProjectName
from stilton.core.permissions import Principal
from stilton.storage.catalog import IndexRecord
from stilton.storage.search import SearchHit
from stilton.web.state import state_of
from stilton.web.ui.access import may_read, viewer
from stilton.web.ui.render import page
from stilton.web.ui.state import ui_of

MAX_QUERY = 200
RESULTS = 50


def searchable(records: list[IndexRecord], principal: Principal) -> dict[str, IndexRecord]:
    """The indexes that hold projects (groups hold none) and that the reader may read."""
    return {r.name: r for r in records if r.kind is not IndexKind.GROUP and may_read(principal, r)}


def _shown(hits: list[SearchHit], indexes: dict[str, IndexRecord]) -> list[SearchHit]:
    policies = {name: IndexConfig.from_mapping(r.config).policy for name, r in indexes.items()}
    return [
        hit for hit in hits if policies[hit.doc.index].project_allowed(ProjectName(hit.doc.name))
    ]


async def search(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    principal = await viewer(request)
    records = await run_in_threadpool(state_of(request).runtime.list_indexes)
    indexes = searchable(records, principal)
    hits: list[SearchHit] = []
    if query:
        found = await run_in_threadpool(ui_of(request).search.search, query, indexes, RESULTS)
        hits = _shown(found, indexes)
    return page(request, "search.html", query=query, results=hits, indexes=sorted(indexes))
