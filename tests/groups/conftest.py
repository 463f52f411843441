"""Group tests: the default layout (``local`` hosted, ``pypi`` proxy of a fake upstream, ``main``
group of both) served in-process by the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, write_sdist, write_wheel
from tests.support.upstream import FakeUpstream

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
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


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    opened = open_runtime(settings)
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def publish(runtime: Runtime, tmp_path: Path, dist: Dist, index: str = "local") -> None:
    """Put a wheel and an sdist of ``dist`` into a hosted index, as an upload would."""
    folder = tmp_path / f"dist-{dist.name}-{dist.version}"
    hosted = runtime.hosted(index)
    hosted.import_file(write_wheel(dist, folder), actor="tests")
    hosted.import_file(write_sdist(dist, folder), actor="tests")


def asked_about(upstream: FakeUpstream, project: str) -> int:
    return upstream.count(lambda r: f"/{project}/" in r.path or f"/{project}-" in r.path)
