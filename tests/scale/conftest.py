"""Fixtures of the scale-out tests: every backend pair of the contract suite, each test on a
fresh PostgreSQL database and a fresh prefix of one bucket (the servers are per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scale.cluster import start_cluster
from tests.support.backends import Backend, s3_backend
from tests.support.postgres import PostgresServer
from tests.support.replicas import Replicas
from tests.support.s3 import S3Server
from tests.support.upstream import FakeUpstream

PAIRS = ("sqlite-local", "postgres-local", "postgres-s3")


@pytest.fixture(scope="session")
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket("stilton-tests")


@pytest.fixture(params=PAIRS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite-local":
        return Backend(request.param)
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    database = postgres.create_database()
    if request.param == "postgres-local":
        return Backend(request.param, database)
    s3: S3Server = request.getfixturevalue("s3_server")
    return s3_backend(request.param, database, s3.endpoint, request.getfixturevalue("bucket"))


@pytest.fixture
def scaled(postgres_server: PostgresServer, s3_server: S3Server, bucket: str) -> Backend:
    """PostgreSQL and S3: what replicas share."""
    return s3_backend("postgres-s3", postgres_server.create_database(), s3_server.endpoint, bucket)


@pytest.fixture(scope="module")
def replicas(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    bucket: str,
    upstream: FakeUpstream,
) -> Iterator[Replicas]:
    """Three replicas behind nginx with a proxy ``up`` of the module's own ``upstream``."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    yield from start_cluster(root, postgres_server, s3_server, bucket, upstream)
