"""What the replica tests share: a cluster of three replicas on PostgreSQL and S3 behind nginx,
a fake upstream with a request log, and clients that install through the balancer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.backends import s3_backend
from tests.support.balancer import nginx_available
from tests.support.clients import UV, Workspace, base_python
from tests.support.dists import Dist
from tests.support.postgres import PostgresServer
from tests.support.replicas import Replicas
from tests.support.s3 import S3Server
from tests.support.uploads import send_wheel
from tests.support.upstream import FakeUpstream, LoggedRequest

VISIBLE_WITHIN = 3.0  # seconds: the deadline for a change on one replica to show on the others
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def serving(dists: list[Dist]) -> Iterator[FakeUpstream]:
    """A fake upstream serving the wheels of ``dists`` (a module's ``upstream`` fixture)."""
    with FakeUpstream() as fake:
        for dist in dists:
            fake.add(dist, sdist=False)
        yield fake


def start_cluster(
    root: Path, postgres: PostgresServer, s3: S3Server, bucket: str, upstream: FakeUpstream
) -> Iterator[Replicas]:
    if not nginx_available():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    backend = s3_backend("replicas", postgres.create_database(), s3.endpoint, bucket)
    with Replicas(root, backend.server_settings()) as replicas:
        replicas.servers[0].cli("index", "create", "up", "--kind", "proxy",
                                "--upstream", upstream.simple_url)  # fmt: skip
        yield replicas


def wait_for(check: Callable[[], bool], deadline: float = VISIBLE_WITHIN) -> float:
    """Seconds until ``check()`` held; fails past the deadline."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not seen within {deadline} s")
        time.sleep(0.02)
    return time.monotonic() - started


def upload(base_url: str, token: str, dist: Dist, index: str = "local") -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=60) as client:
        return send_wheel(client, token, dist, index, base_url)


def page_files(base_url: str, index: str, project: str, **headers: str) -> dict[str, object]:
    """Filename -> yanked, as a replica's page lists them ({} when the page is missing)."""
    response = httpx.get(f"{base_url}/{index}/simple/{project}/", headers={**JSON, **headers})
    if response.status_code != 200:
        return {}
    return {f["filename"]: f.get("yanked", False) for f in response.json()["files"]}


def uv_install(workspace: Workspace, index_url: str, *requirements: str) -> None:
    """uv installs into a target directory of its own, without a cache."""
    target = workspace.directory("target")
    workspace.tool(
        UV, "pip", "install", "--python", base_python(), "--target", target,
        "--index-url", index_url, "--no-cache", *requirements,
    )  # fmt: skip


def whole_file_gets(upstream: FakeUpstream, filename: str) -> int:
    def whole(request: LoggedRequest) -> bool:
        return (
            request.method == "GET"
            and request.path == f"/files/{filename}"
            and "range" not in request.headers
        )

    return upstream.count(whole)


def page_gets(upstream: FakeUpstream, project: str) -> int:
    return upstream.count(lambda r: r.method == "GET" and r.path == f"/simple/{project}/")
