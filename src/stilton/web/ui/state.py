"""The web interface's share of a worker's state: templates, assets, sessions, the search
index and the caches of what pages are made from (valid while nothing they came from changed,
like the Simple API's pages; web/cache.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from stilton.core.names import IndexName
from stilton.web.cache import StampedCache
from stilton.web.state import WebState
from stilton.web.ui.assets import Asset, load_assets
from stilton.web.ui.readme import Readmes
from stilton.web.ui.render import Pages
from stilton.web.ui.search_index import SearchIndex
from stilton.web.ui.sessions import Sessions

CACHE_BYTES = 64 * 2**20


def _weight(value: Any) -> int:
    weight = getattr(value, "weight", 1000)
    return int(weight)


@dataclass
class UiState:
    web: WebState
    assets: dict[str, Asset]
    pages: Pages
    sessions: Sessions
    search: SearchIndex
    # (what, key): project lists per readable-members set, project pages per version
    views: StampedCache[tuple[str, Any], Any]
    api_schema: Callable[[], dict[str, Any]]
    readmes: Readmes

    @classmethod
    def build(cls, web: WebState, api_schema: Callable[[], dict[str, Any]]) -> UiState:
        runtime = web.runtime
        assets = load_assets()
        return cls(
            web,
            assets,
            Pages(assets),
            Sessions(runtime.database, runtime.feed),
            SearchIndex(runtime),
            StampedCache(web.versions, CACHE_BYTES, _weight),
            api_schema,
            Readmes(),
        )

    @property
    def default_index(self) -> IndexName:
        return self.web.default_index


def ui_of(request: Request) -> UiState:
    ui = request.app.state.ui
    assert isinstance(ui, UiState)
    return ui
