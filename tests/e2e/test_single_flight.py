"""Twenty clients asking a real server at once for a file it has not cached get identical, verified
bytes from one upstream download, whether the file streams while it arrives (large) or is
verified before the answer (small); and a server killed with SIGKILL keeps what it cached.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import pytest
from pypi_simple import ACCEPT_JSON_ONLY

from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream, Fault, LoggedRequest

pytestmark = pytest.mark.e2e

CLIENTS = 20
SLOW_SECONDS = 1.0  # the upstream's delay before each answer: the window the clients meet in
STREAM_THRESHOLD = 8 * 2**20  # files above this size are streamed to clients while they arrive
LARGE = Dist("sf-large", "1.0", padding=30 * 2**20)
SMALL = Dist("sf-small", "1.0")
# One file of each path: verified before it is served, and streamed while it arrives.
KEPT = (Dist("sf-kept", "1.0"), Dist("sf-kept-large", "1.0", padding=10 * 2**20))


@pytest.fixture(scope="module")
def stilton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    """This module's server. A test may kill it, but restarts it in place (same port and data).
    (The name is the one the e2e conftest looks for to attach the server's log to a failure.)"""
    with StiltonServer(tmp_path_factory.mktemp("single-flight")) as server:
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    """An upstream that tests add their own projects to, and make slow for them alone."""
    with FakeUpstream(slow_seconds=SLOW_SECONDS) as fake:
        yield fake


def create_proxy(server: StiltonServer, name: str, upstream: FakeUpstream) -> str:
    """A new proxy index of ``upstream`` on the running server; returns its simple-API URL."""
    server.cli(
        "index",
        "create",
        name,
        "--kind",
        "proxy",
        "--upstream",
        upstream.simple_url,
        "--data-dir",
        str(server.data_dir),
    )
    return server.index_url(name)


@pytest.fixture(scope="module")
def index_url(stilton_server: StiltonServer, upstream: FakeUpstream) -> str:
    return create_proxy(stilton_server, "sf-up", upstream)


@dataclass(frozen=True, slots=True)
class Listed:
    """A file as the proxy's project page lists it."""

    url: str  # absolute
    sha256: str
    page: bytes  # the whole page, as JSON


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one client received, and when it asked and finished."""

    status: int
    size: int
    sha256: str
    sent_at: float  # time.monotonic()
    finished_at: float


def find_listed(client: httpx.Client, index_url: str, dist: Dist, filename: str) -> Listed:
    page_url = f"{index_url}{dist.name}/"
    response = client.get(page_url, headers={"Accept": ACCEPT_JSON_ONLY})
    assert response.status_code == 200, response.text
    (entry,) = [f for f in response.json()["files"] if f["filename"] == filename]
    return Listed(urljoin(page_url, entry["url"]), entry["hashes"]["sha256"], response.content)


def fetch(url: str, start: threading.Barrier) -> Fetched:
    """GET ``url`` on a connection of its own once every client is ready; hash what arrives."""
    digest = hashlib.sha256()
    size = 0
    with httpx.Client(trust_env=False, timeout=60.0) as client:
        start.wait(timeout=30)
        sent_at = time.monotonic()
        with client.stream("GET", url) as response:
            for chunk in response.iter_bytes():
                digest.update(chunk)
                size += len(chunk)
        return Fetched(response.status_code, size, digest.hexdigest(), sent_at, time.monotonic())


def fetch_at_once(url: str, clients: int) -> list[Fetched]:
    start = threading.Barrier(clients)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(fetch, url, start) for _ in range(clients)]
        return [future.result() for future in futures]


def downloads(upstream: FakeUpstream, filename: str) -> int:
    """GETs of ``filename`` the upstream answered, whole or ranged."""

    def get_of_file(request: LoggedRequest) -> bool:
        return request.method == "GET" and request.path == f"/files/{filename}"

    return upstream.count(get_of_file)


@pytest.mark.parametrize(
    ("dist", "streamed"), [(LARGE, True), (SMALL, False)], ids=["streamed", "verified-first"]
)
def test_concurrent_clients_share_one_upstream_download(
    dist: Dist, streamed: bool, upstream: FakeUpstream, index_url: str
) -> None:
    upstream.add(dist, sdist=False)
    upstream.set_fault(Fault.SLOW, dist.name)
    data = upstream.file_bytes(dist.wheel_filename)
    assert (len(data) > STREAM_THRESHOLD) is streamed
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        listed = find_listed(client, index_url, dist, dist.wheel_filename)
    assert listed.sha256 == upstream.sha256(dist.wheel_filename)

    fetched = fetch_at_once(listed.url, CLIENTS)

    assert {(f.status, f.size, f.sha256) for f in fetched} == {(200, len(data), listed.sha256)}
    assert downloads(upstream, dist.wheel_filename) == 1
    # Every request went out before any answer was complete: they overlapped, so the single
    # download above was shared rather than cached in between.
    assert max(f.sent_at for f in fetched) < min(f.finished_at for f in fetched)


def test_cached_files_and_pages_survive_a_kill(stilton_server: StiltonServer) -> None:
    with FakeUpstream() as kept_upstream:
        for dist in KEPT:
            kept_upstream.add(dist)
        index_url = create_proxy(stilton_server, "sf-kept", kept_upstream)
        expected: dict[str, Listed] = {}
        with httpx.Client(trust_env=False, timeout=60.0) as client:
            for dist in KEPT:
                for filename in (dist.wheel_filename, dist.sdist_filename):
                    listed = find_listed(client, index_url, dist, filename)
                    response = client.get(listed.url)
                    assert response.status_code == 200, response.text
                    assert response.content == kept_upstream.file_bytes(filename)
                    expected[filename] = listed

        stilton_server.kill()
    stilton_server.start()

    with httpx.Client(trust_env=False, timeout=60.0) as client:
        for dist in KEPT:
            for filename in (dist.wheel_filename, dist.sdist_filename):
                listed = find_listed(client, index_url, dist, filename)
                assert listed == expected[filename]
                response = client.get(listed.url)
                assert response.status_code == 200, response.text
                assert hashlib.sha256(response.content).hexdigest() == listed.sha256
