"""Web tests run the real ASGI app (real SQLite, real blob store) in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, sdist_bytes, wheel_bytes
from tests.support.uploads import basic_auth, upload_fields

CLOSED_UPSTREAM = "http://127.0.0.1:9/simple/"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The default "pypi" proxy points at a closed local port: tests never reach a real index.
    overrides = {
        "data_dir": tmp_path / "data",
        "max_upload_size": 2 * 2**20,
        "default_upstream": CLOSED_UPSTREAM,
        # Changes made through another runtime (as the CLI would) are seen at once.
        "generation_poll_interval": 0,
    }
    return Settings.from_env({}, overrides)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def runtime(settings: Settings, client: TestClient) -> Iterator[Runtime]:
    """A second runtime on the same data directory, as the CLI would open it."""
    opened = open_runtime(settings)
    yield opened
    opened.close()


@pytest.fixture
def token(runtime: Runtime) -> str:
    return runtime.auth.create_token(None, "tests")[1]


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return basic_auth("__token__", token)


class Uploader:
    def __init__(self, client: TestClient, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def wheel(self, dist: Dist, index: str = "local", **overrides: Any):  # type: ignore[no-untyped-def]
        data = wheel_bytes(dist)
        return self.client.post(
            f"/{index}/",
            data=upload_fields(dist, data, **overrides),
            files={"content": (dist.wheel_filename, data, "application/octet-stream")},
            headers=self.auth,
        )

    def sdist(self, dist: Dist, index: str = "local", **overrides: Any):  # type: ignore[no-untyped-def]
        data = sdist_bytes(dist)
        return self.client.post(
            f"/{index}/",
            data=upload_fields(dist, data, sdist=True, **overrides),
            files={"content": (dist.sdist_filename, data, "application/octet-stream")},
            headers=self.auth,
        )


@pytest.fixture
def uploader(client: TestClient, auth: dict[str, str]) -> Uploader:
    return Uploader(client, auth)
