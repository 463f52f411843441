"""An index's projects as its page lists them: the index's own list (its policy applied, a
group's made from the members the reader may read), each project with its summary, latest
version and last upload from the search index; sorted by name or by last upload, in pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stilton.core.names import IndexName
from stilton.indexes.base import Index
from stilton.web.auth import readable_members
from stilton.web.state import state_of
from stilton.web.ui.state import ui_of

PAGE_SIZE = 50
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ProjectRow:
    name: str
    display_name: str
    summary: str | None
    version: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Listing:
    by_name: tuple[ProjectRow, ...]
    by_upload: tuple[ProjectRow, ...]  # the most recent first; unknown times last

    @property
    def weight(self) -> int:
        return 200 * len(self.by_name) + 500


@dataclass(frozen=True, slots=True)
class ListingPage:
    rows: tuple[ProjectRow, ...]
    page: int
    pages: int
    total: int
    sort: str


async def within(request: Request, index: Index) -> frozenset[IndexName] | None:
    """The members whose projects the reader may see (None: all); as the Simple API does."""
    built = state_of(request).built(index.name)
    if built.public:
        return None
    readable = await readable_members(request, index)
    return None if readable == frozenset(built.acls) else readable


async def listing_of(request: Request, index: Index) -> Listing:
    ui = ui_of(request)
    members = await within(request, index)
    key = ("listing", members)
    cached = ui.views.get(index.name, key)
    if isinstance(cached, Listing):
        return cached
    stamp = ui.web.versions.stamp(index.name)
    projects = (await index.list_projects(members)).projects
    leaves = [leaf.name for leaf in index.leaves() if members is None or leaf.name in members]
    docs = await run_in_threadpool(ui.search.docs, leaves)
    rows = []
    for project in projects:
        doc = next(
            (docs[(leaf, project.name)] for leaf in leaves if (leaf, project.name) in docs), None
        )
        rows.append(
            ProjectRow(
                project.name,
                doc.display_name if doc else project.display_name,
                doc.summary if doc else None,
                doc.version if doc else None,
                doc.updated_at if doc else None,
            )
        )
    by_name = tuple(sorted(rows, key=lambda r: r.name))
    by_upload = tuple(sorted(by_name, key=lambda r: r.updated_at or _EPOCH, reverse=True))
    listing = Listing(by_name, by_upload)
    ui.views.put(index.name, key, listing, project=None, stamp=stamp)
    return listing


def page_of(listing: Listing, sort: str, page: int) -> ListingPage:
    rows = listing.by_upload if sort == "upload" else listing.by_name
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return ListingPage(
        rows[start : start + PAGE_SIZE],
        page,
        pages,
        len(rows),
        "upload" if sort == "upload" else "name",
    )
