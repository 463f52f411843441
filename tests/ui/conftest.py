"""Web interface tests: the real app in-process (as tests/web does), the auth layout of private
indexes of every kind (tests/auth), and a real ``stilton serve`` for the browser and client
tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.auth.conftest import server, template, upstream  # noqa: F401 - fixtures reused
from tests.support.dists import Dist
from tests.support.uploads import post_wheel

CLOSED_UPSTREAM = "http://127.0.0.1:9/simple/"
# What Chromium and Firefox send for a page.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {},
        {
            "data_dir": tmp_path / "data",
            "default_upstream": CLOSED_UPSTREAM,
            "generation_poll_interval": 0,
        },
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.stilton.runtime  # type: ignore[attr-defined]
    return runtime


def upload(client: TestClient, dist: Dist, index: str = "local") -> None:
    post_wheel(client, runtime_of(client).auth.create_token(None, "tests")[1], dist, index)
