"""Storage that fails under a replica: the database going away (503 saying so, and recovery
once it is back), and a bucket refusing writes (the upload fails whole, nothing half-stored,
and the same upload succeeds once the bucket takes writes again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.cluster import page_files, upload, wait_for
from tests.support.backends import s3_values
from tests.support.dists import Dist
from tests.support.postgres import PostgresServer
from tests.support.relay import Relay
from tests.support.s3 import S3Server
from tests.support.server import StiltonServer

pytestmark = pytest.mark.e2e
PASSWORD = "hunter2-db-secret"


@pytest.fixture
def relay(postgres_server: PostgresServer) -> Iterator[Relay]:
    relay = Relay(postgres_server.port)
    relay.restore()
    yield relay
    relay.cut()


def test_the_database_going_away_is_a_503_that_says_so_and_passes(
    postgres_server: PostgresServer, relay: Relay, tmp_path: Path
) -> None:
    url = postgres_server.create_database().replace(f":{postgres_server.port}/", f":{relay.port}/")
    url = url.replace("stilton@", f"stilton:{PASSWORD}@")  # trusted anyway; never to be shown
    with StiltonServer(tmp_path, settings={"database_url": url}) as server:
        token = server.create_token()
        assert upload(server.url, token, Dist("db-away", "1.0")).status_code == 200
        relay.cut()
        refused = upload(server.url, token, Dist("db-away", "2.0"))
        assert refused.status_code == 503
        assert "database is unavailable" in refused.text.lower()
        ready = httpx.get(f"{server.url}/-/ready")
        assert ready.status_code == 503 and ready.json()["failed"] == ["database"]
        relay.restore()
        wait_for(lambda: httpx.get(f"{server.url}/-/ready").status_code == 200, 10)
        assert upload(server.url, token, Dist("db-away", "2.0")).status_code == 200
        assert set(page_files(server.url, "local", "db-away")) == {
            Dist("db-away", v).wheel_filename for v in ("1.0", "2.0")
        }
        assert PASSWORD not in server.read_log() + refused.text + ready.text


def test_a_bucket_refusing_writes_stores_nothing_half(
    postgres_server: PostgresServer, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket()
    settings = {
        "database_url": postgres_server.create_database(),
        "blob_url": f"s3://{bucket}/refusing",
        **s3_values(s3_server.endpoint),
    }
    with StiltonServer(tmp_path, settings=settings) as server:
        token = server.create_token()
        s3_server.delete_bucket(bucket)  # from now on every write fails
        dist = Dist("bucket-refuses", "1.0")
        refused = upload(server.url, token, dist)
        assert refused.status_code == 503, refused.text
        assert f"s3://{bucket}/refusing" in refused.text
        assert page_files(server.url, "local", dist.name) == {}
        ready = httpx.get(f"{server.url}/-/ready")
        assert ready.status_code == 503 and ready.json()["failed"] == ["blobs"]
        assert list(server.data_dir.rglob("*.part")) == []  # the spool file went too
        assert "stilton-test-secret" not in server.read_log() + refused.text + ready.text
        s3_server.create_bucket(bucket)
        assert upload(server.url, token, dist).status_code == 200  # repeated, now whole
        assert list(s3_server.keys(bucket, "refusing/sha256/"))
        check = server.cli("check-storage")
        assert "0 problem(s)" in check.stdout
