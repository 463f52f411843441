"""Fixtures for the end-to-end suite: one real Stilton server per session (per xdist worker), an
upload token for it, and a scrubbed client workspace per test. A failing test's report carries
the server's log.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support.clients import Upload, Workspace
from tests.support.server import StiltonServer

SERVER_LOG_TAIL_CHARS = 6000


@pytest.fixture(scope="session")
def stilton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    server = StiltonServer(tmp_path_factory.mktemp("stilton"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token(stilton_server: StiltonServer) -> str:
    """An upload token for the ``local`` index."""
    return stilton_server.create_token()


@pytest.fixture(scope="session")
def upload(stilton_server: StiltonServer, token: str) -> Upload:
    """The ``local`` index's legacy upload URL with a valid token."""
    return Upload(stilton_server.upload_url(), token)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    server = getattr(item, "funcargs", {}).get("stilton_server")
    if report.failed and isinstance(server, StiltonServer):
        report.sections.append(
            ("stilton server log (tail)", server.read_log()[-SERVER_LOG_TAIL_CHARS:])
        )
    return report
