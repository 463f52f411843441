"""Proxy tests: the real ASGI app (real SQLite, real blob store) in front of a fake upstream on
its own loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(slow_seconds=1.5) as fake:
        fake.add(Dist("alpha", "1.0", requires_dist=("beta>=1",), requires_python=">=3.8"))
        fake.add(Dist("alpha", "1.1", requires_dist=("beta>=1",)), sdist=False)
        fake.add(Dist("beta", "1.0"))
        yield fake


@pytest.fixture
def settings(tmp_path: Path, upstream: FakeUpstream) -> Settings:
    return Settings.from_env(
        {},
        {
            "data_dir": tmp_path / "data",
            "default_upstream": upstream.simple_url,
            # Changes made through another runtime (as the CLI would) are seen at once.
            "generation_poll_interval": 0,
        },
    )


ProxyFactory = Callable[..., TestClient]


@pytest.fixture
def proxy(settings: Settings, upstream: FakeUpstream) -> Iterator[ProxyFactory]:
    """Make the app with a proxy index ``up`` of the fake upstream, configured as asked."""
    clients: list[TestClient] = []

    def make(**config: Any) -> TestClient:
        runtime = open_runtime(settings)
        try:
            runtime.create_index("up", IndexKind.PROXY, {"url": upstream.simple_url, **config})
        finally:
            runtime.close()
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    opened = open_runtime(settings)
    yield opened
    opened.close()


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in (settings.blob_dir / "sha256").rglob("*") if p.is_file()]
