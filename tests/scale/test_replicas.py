"""Three replicas on one PostgreSQL database and one bucket behind nginx: a change made on one
replica is seen by the others within the feed's interval, and twenty cold installs through
all three fetch each upstream page and file exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.scale.cluster import (
    page_files,
    page_gets,
    serving,
    upload,
    uv_install,
    wait_for,
    whole_file_gets,
)  # fmt: skip
from tests.support.clients import Workspace
from tests.support.dists import Dist
from tests.support.replicas import Replicas
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e
INSTALLS = 20
LIBRARIES = [Dist(f"rep-lib{n}", "1.0", padding=200_000 * n) for n in range(1, 5)]
APP = Dist("rep-app", "1.0", requires_dist=tuple(d.name for d in LIBRARIES))


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    yield from serving([APP, *LIBRARIES])


@pytest.fixture(scope="module")
def token(replicas: Replicas) -> str:
    return replicas.servers[0].create_token()


def seen_by_all(servers: list[StiltonServer], check: Callable[[str], bool]) -> float:
    """The longest any of ``servers`` (by base URL) took until ``check`` held for it."""
    return max(wait_for(partial(check, server.url)) for server in servers)


def test_changes_on_one_replica_are_seen_by_the_others(
    replicas: Replicas, token: str, tmp_path: Path
) -> None:
    writer, *others = replicas.servers
    dist = Dist("rep-coherent", "1.0")
    for other in others:  # cached pages on every replica, so that each must notice the change
        assert page_files(other.url, "local", "rep-coherent") == {}

    def files(url: str) -> dict[str, object]:
        return page_files(url, "local", dist.name)

    assert upload(writer.url, token, dist).status_code == 200
    seen_by_all(others, lambda url: dist.wheel_filename in files(url))
    uv_install(Workspace(tmp_path / "install"), replicas.index_url("local"), dist.name)
    writer.cli("yank", dist.name, "1.0", "--reason", "broken")
    seen_by_all(others, lambda url: files(url).get(dist.wheel_filename) == "broken")
    writer.cli("delete", dist.name, "1.0", "--yes")
    seen_by_all(others, lambda url: files(url) == {})


def test_a_permission_change_reaches_every_replica(replicas: Replicas) -> None:
    writer, *others = replicas.servers
    writer.create_index("rep-private")
    token = writer.create_token("rep-private")
    assert upload(writer.url, token, Dist("rep-secret", "1.0"), "rep-private").status_code == 200
    seen_by_all(others, lambda url: bool(page_files(url, "rep-private", "rep-secret")))
    writer.cli("index", "permissions", "rep-private", "--private")
    secret = "/rep-private/simple/rep-secret/"
    seen_by_all(others, lambda url: httpx.get(url + secret).status_code == 401)


def test_cold_installs_through_three_replicas_fetch_each_file_once(
    replicas: Replicas, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.clear_requests()

    def install(number: int) -> None:
        uv_install(Workspace(tmp_path / f"client{number}"), replicas.index_url("up"), APP.name)

    with ThreadPoolExecutor(INSTALLS) as pool:
        list(pool.map(install, range(INSTALLS)))
    for dist in [APP, *LIBRARIES]:
        assert page_gets(upstream, dist.name) == 1, dist.name
        assert whole_file_gets(upstream, dist.wheel_filename) <= 1, dist.wheel_filename
    # Every wheel was needed, and so fetched, by someone: exactly once.
    assert [whole_file_gets(upstream, d.wheel_filename) for d in LIBRARIES] == [1] * 4


def test_a_replicas_data_directory_holds_only_spool_files(replicas: Replicas) -> None:
    """Everything else is in the database and the bucket."""
    for server in replicas.servers:
        kept = [p for p in server.data_dir.rglob("*") if p.is_file()]
        assert all(p.relative_to(server.data_dir).parts[0] == "tmp" for p in kept), kept
