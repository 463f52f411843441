"""An index object is built once per configuration, however many requests ask for it at once.

A cold install's first burst asks for ~50 pages together; each build of a proxy opens an
upstream client (and a pool of connections) of its own, and single flight for pages and files
holds only within one index object, so every request of the burst must get the same one.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from starlette.concurrency import run_in_threadpool
from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.core.names import IndexName
from stilton.indexes.base import Index
from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from stilton.web.state import WebState
from tests.support.dists import Dist, write_wheel
from tests.support.metrics import scrape, value
from tests.web.conftest import CLOSED_UPSTREAM

FRESH = Dist("fresh-pkg", "1.0")


def _state(client: TestClient) -> WebState:
    state = cast(Any, client.app).state.stilton
    assert isinstance(state, WebState)
    return state


async def _lookups(state: WebState, names: list[str]) -> list[Index]:
    return await asyncio.gather(*(state.index(name) for name in names))


def test_concurrent_first_lookups_share_one_build(client: TestClient) -> None:
    state = _state(client)
    state.indexes.clear()  # as a fresh worker: nothing looked up yet
    assert client.portal is not None
    burst = client.portal.call(_lookups, state, ["main"] * 30 + ["pypi"] * 30)
    groups, proxies = burst[:30], burst[30:]
    assert all(index is groups[0] for index in groups)
    assert all(index is proxies[0] for index in proxies)
    # Settled: a later lookup answers with the very same object.
    assert client.portal.call(_lookups, state, ["main", "pypi"]) == [groups[0], proxies[0]]


def test_a_changed_configuration_is_built_again(client: TestClient, runtime: Runtime) -> None:
    state = _state(client)
    assert client.portal is not None
    [before] = client.portal.call(_lookups, state, ["pypi"])
    runtime.configure("pypi", upstream={"ttl": 123})
    after = client.portal.call(_lookups, state, ["pypi"] * 10)
    assert all(index is after[0] for index in after)
    assert after[0] is not before


@pytest.fixture
def quiet_feed_settings(tmp_path: Path) -> Settings:
    """A server that hears the change feed only when a lookup makes it (no background poll)."""
    overrides = {
        "data_dir": tmp_path / "data",
        "default_upstream": CLOSED_UPSTREAM,
        "generation_poll_interval": 3600,
    }
    return Settings.from_env({}, overrides)


def test_what_is_made_before_the_feed_tells_of_an_index_stays_valid(
    quiet_feed_settings: Settings, tmp_path: Path
) -> None:
    """An index created (and filled) by another process is found in the database at once; the
    change feed tells of its creation a moment later. What was built and rendered in between
    must not be thrown away then: a cold install right after `stilton index create` would
    otherwise render its first ~50 pages twice."""
    with TestClient(create_app(quiet_feed_settings)) as client:
        assert client.portal is not None
        client.portal.call(_catch_up, _state(client))  # where the server starts to listen
        other = open_runtime(quiet_feed_settings)  # as the CLI would
        try:
            other.create_index("fresh", IndexKind.HOSTED)
            folder = tmp_path / "dist"
            other.hosted("fresh").import_file(write_wheel(FRESH, folder), actor="tests")
        finally:
            other.close()
        page = "/fresh/simple/fresh-pkg/"
        before = scrape(client)
        assert client.get(page).status_code == 200  # rendered: a miss
        client.portal.call(_catch_up, _state(client))  # the feed tells of the new index
        assert client.get(page).status_code == 200
        after = scrape(client)
    assert (
        value(after, "stilton_page_cache_total", result="miss")
        - value(before, "stilton_page_cache_total", result="miss")
        == 1
    )
    assert (
        value(after, "stilton_page_cache_total", result="hit")
        - value(before, "stilton_page_cache_total", result="hit")
        == 1
    )


async def _catch_up(state: WebState) -> None:
    await run_in_threadpool(state.versions.catch_up)


def test_a_served_app_builds_the_default_index_before_the_first_request(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings, prepare=True)) as client:
        state = _state(client)
        assert state.default_index in state.indexes, "built at startup"
        built = state.indexes[state.default_index].index
        assert client.get("/simple/").status_code == 200
        assert state.indexes[state.default_index].index is built, "and used, not built again"


def test_a_default_index_that_cannot_be_built_does_not_stop_the_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    missing = replace(settings, default_index=IndexName("nope"))
    with caplog.at_level("INFO", "stilton.web"), TestClient(create_app(missing, prepare=True)) as c:
        response = c.get("/simple/")
        assert response.status_code == 404
        assert "No index named 'nope'" in response.text
    assert "the default index 'nope' will be built when first asked for" in caplog.text
