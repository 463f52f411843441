"""Services shared by the tests of one xdist worker, started only when a test asks for them:
a PostgreSQL server and an S3 endpoint (moto), each on a free loopback port and stopped by the
PID of the process started. Without their binaries a test is skipped, except in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer, postgres_bin
from tests.support.s3 import S3Server


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is needed in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        _missing("PostgreSQL (apt-get install postgresql)")
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        _missing("moto's server (the dev dependency moto[server])")
    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()
