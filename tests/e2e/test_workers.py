"""Several worker processes serve one data directory as one server: a yank, a delete or a token
revocation made anywhere (here by the CLI, a process of its own) is seen by every worker within
about a second, even by one that has the page or file in its memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, upload_fields

pytestmark = pytest.mark.e2e

DEMO = Dist("worker-demo", "1.0")
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
DEADLINE = 4.0  # seconds: the poll interval (1 s) with room for a loaded machine
REQUESTS = 24  # fresh connections per check, so that every worker is asked


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    with StiltonServer(tmp_path_factory.mktemp("workers"), workers=2) as running:
        yield running


def fresh(server: StiltonServer) -> httpx.Client:
    """A client that opens a new connection for every request (spread over the workers)."""
    return httpx.Client(
        base_url=server.url, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
    )


def upload(server: StiltonServer, dist: Dist) -> str:
    """Upload a wheel; returns its file URL as the JSON page gives it."""
    data = wheel_bytes(dist)
    token = server.create_token()
    with fresh(server) as client:
        response = client.post(
            "/local/",
            data=upload_fields(dist, data),
            files={"content": (dist.wheel_filename, data)},
            headers=basic_auth("__token__", token),
        )
        assert response.status_code == 200, response.text
        page = client.get(f"/local/simple/{dist.name}/", headers=JSON).json()
    url: str = page["files"][0]["url"]
    return url


def everywhere(server: StiltonServer, check: Callable[[httpx.Client], bool]) -> bool:
    with fresh(server) as client:
        return all(check(client) for _ in range(REQUESTS))


def soon_everywhere(server: StiltonServer, check: Callable[[httpx.Client], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not everywhere(server, check):
        assert time.monotonic() < deadline, "a worker still serves what changed"
        time.sleep(0.1)


def test_a_delete_is_seen_by_every_worker(server: StiltonServer) -> None:
    url = upload(server, DEMO)
    page = f"/local/simple/{DEMO.name}/"
    assert everywhere(server, lambda c: c.get(url).status_code == 200)  # both have it cached
    assert everywhere(server, lambda c: c.get(page, headers=JSON).status_code == 200)
    server.cli("yank", DEMO.name, DEMO.version, "--reason", "broken")
    soon_everywhere(server, lambda c: c.get(page, headers=JSON).json()["files"][0]["yanked"])
    server.cli("delete", DEMO.name, DEMO.version, "--yes")
    soon_everywhere(server, lambda c: c.get(url).status_code == 404)
    soon_everywhere(server, lambda c: c.get(page, headers=JSON).status_code == 404)


def test_a_revoked_token_stops_working_on_every_worker(server: StiltonServer) -> None:
    server.create_index("private")
    server.cli("index", "permissions", "private", "--private")
    created = server.cli("token", "create", "--index", "private", "--action", "read")
    lines = created.stdout.strip().splitlines()
    token, token_id = lines[-1], lines[0].split()[1]  # "Token <id> for ...", then the secret
    auth = basic_auth("__token__", token)
    assert everywhere(server, lambda c: c.get("/private/simple/", headers=auth).status_code == 200)
    server.cli("token", "revoke", token_id)
    # Refused: 401, or 429 once the brute-force guard has counted enough failures.
    refused = (401, 429)
    soon_everywhere(
        server, lambda c: c.get("/private/simple/", headers=auth).status_code in refused
    )
