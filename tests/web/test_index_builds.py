"""An index object is built once per configuration, however many requests ask for it at once.

A cold install's first burst asks for ~50 pages together; each build of a proxy opens an
upstream client (and a pool of connections) of its own, and single flight for pages and files
holds only within one index object, so every request of the burst must get the same one.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.testclient import TestClient

from stilton.indexes.base import Index
from stilton.runtime import Runtime
from stilton.web.state import WebState


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
