"""The home page: the indexes the reader may read, what each is and how many projects it has,
the default index (the one ``/simple/`` serves) first."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from stilton.core.index_config import IndexConfig
from stilton.storage.catalog import IndexRecord
from stilton.web.state import state_of
from stilton.web.ui.access import may_read, viewer
from stilton.web.ui.describe import summary_of
from stilton.web.ui.listing import listing_of
from stilton.web.ui.render import page


@dataclass(frozen=True, slots=True)
class IndexCard:
    name: str
    kind: str
    summary: str
    count: int
    default: bool
    private: bool


async def _card(request: Request, record: IndexRecord) -> IndexCard:
    state = state_of(request)
    index = await state.index(record.name)
    listing = await listing_of(request, index)
    return IndexCard(
        record.name,
        record.kind.value,
        summary_of(record),
        len(listing.by_name),
        record.name == state.default_index,
        not IndexConfig.from_mapping(record.config).acl.is_public,
    )


async def home(request: Request) -> Response:
    principal = await viewer(request)
    records = await run_in_threadpool(state_of(request).runtime.list_indexes)
    readable = [r for r in records if may_read(principal, r)]
    cards = [await _card(request, record) for record in readable]
    cards.sort(key=lambda card: (not card.default, card.name))
    return page(request, "home.html", cards=cards, hidden=len(records) > len(readable))
