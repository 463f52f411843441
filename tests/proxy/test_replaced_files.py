"""An upstream that replaces a file under the same name (a private index or a static tree may;
the public index never does), seen by two processes of one server: what one process read of a
page for one file is not trusted past the TTL, so the other's refresh reaches it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from stilton.settings import Settings
from stilton.web.app import create_app
from tests.proxy.conftest import JSON, ProxyFactory
from tests.support.dists import Dist, wheel_bytes
from tests.support.upstream import FakeUpstream

OLD = Dist("gamma", "1.0", module_body='ORIGIN = "first"\n')
NEW = Dist("gamma", "1.0", module_body='ORIGIN = "second"\n')
WHEEL = "gamma-1.0-py3-none-any.whl"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No page stays in memory: files are looked up in the kept pages."""
    return replace(settings, upstream_page_bytes=1)


@pytest.fixture
def other_process(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def wheel_url(client: TestClient) -> str:
    files = client.get("/up/simple/gamma/", headers=JSON).json()["files"]
    return next(f["url"] for f in files if f["filename"] == WHEEL)  # type: ignore[no-any-return]


def test_a_file_replaced_upstream_is_served_after_another_process_refreshed(
    proxy: ProxyFactory, upstream: FakeUpstream, other_process: TestClient
) -> None:
    upstream.add(OLD, sdist=False)
    client = proxy(ttl=0)  # every page request asks the upstream again
    old_url = wheel_url(client)
    assert client.get(old_url).content == wheel_bytes(OLD)
    assert client.get(old_url + ".metadata").status_code == 200

    upstream.remove_file(WHEEL)
    upstream.add(NEW, sdist=False)
    new_url = wheel_url(other_process)  # the other process refreshes the kept page
    assert new_url != old_url
    assert client.get(new_url + ".metadata").status_code == 200
    assert client.get(new_url).content == wheel_bytes(NEW)
