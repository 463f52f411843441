"""A real server's proxy whose upstream fails again and again: marked unhealthy, it serves what
it keeps without asking the upstream and refuses the rest at once; ``/-/ready``, the metrics and
``stilton index list`` say so, whichever worker answers (each worker judges by its own requests
and writes its judgement to the database); once the upstream answers again, background retries
mark it healthy. What reaches the upstream is counted, not timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth
from tests.support.upstream import FakeUpstream, Fault, LoggedRequest
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

SETTINGS = {"upstream_unhealthy_after": "3", "upstream_retry_interval": "1"}
SAFETY_NET = 60.0  # seconds before a request is abandoned, so a hang fails instead of blocking
REQUESTS = 20  # fresh connections, so that every worker is asked


def fresh(server: StiltonServer) -> httpx.Client:
    """A client that opens a new connection for every request (spread over the workers)."""
    return httpx.Client(
        base_url=server.url,
        trust_env=False,
        timeout=SAFETY_NET,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def upstream_report(server: StiltonServer) -> dict[str, Any]:
    with fresh(server) as client:
        response = client.get("/-/ready")
    assert response.status_code == 200  # about this server's own storage only
    report: dict[str, Any] = response.json()["upstreams"]["up"]
    return report


def healthy_gauge(server: StiltonServer, index: str = "up") -> str:
    """The gauge of one proxy (the default layout's ``pypi`` has one from the start too)."""
    with fresh(server) as client:
        text = client.get("/-/metrics").text
    gauge = f'stilton_upstream_healthy{{index="{index}"}}'
    return next(line for line in text.splitlines() if line.startswith(gauge))


def not_a_retry(request: LoggedRequest) -> bool:
    """Background retries ask HEAD of the upstream's URL; anything else came from a request."""
    return not (request.method == "HEAD" and request.path == "/simple/")


def api_view(server: StiltonServer, action: str) -> dict[str, Any]:
    """The proxy as the admin API shows it to a token for ``action`` on it."""
    token = server.cli("token", "create", "--index", "up", "--action", action).stdout
    auth = basic_auth("__token__", token.strip().splitlines()[-1])
    with fresh(server) as client:
        response = client.get("/api/indexes/up", headers=auth)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


def create_proxy(server: StiltonServer, upstream: FakeUpstream) -> None:
    upstream.add(Dist("kept", "1.0"), sdist=False)
    server.cli(
        "index", "create", "up", "--kind", "proxy", "--upstream", upstream.simple_url,
        "--ttl", "0",
    )  # fmt: skip


def test_an_unhealthy_upstream_is_not_asked_and_recovers(tmp_path: Path) -> None:
    with FakeUpstream() as upstream, StiltonServer(tmp_path, settings=SETTINGS) as server:
        create_proxy(server, upstream)
        with fresh(server) as client:
            assert client.get("/up/simple/kept/").status_code == 200  # kept from now on
            upstream.set_fault(Fault.ERROR_500)
            for _ in range(3):  # each revalidation fails: the kept page, said to be stale
                assert "x-stilton-stale" in client.get("/up/simple/kept/").headers
            wait_for(lambda: upstream_report(server)["healthy"] is False, "/-/ready saying so")

            upstream.set_fault(Fault.RESET)
            upstream.clear_requests()
            for _ in range(10):
                answer = client.get("/up/simple/kept/")
                assert answer.status_code == 200
                assert "marked unhealthy" in answer.headers["x-stilton-stale"]
                refused = client.get("/up/simple/other/")
                assert refused.status_code == 503
                assert "proxy index 'up'" in refused.text and "retried" in refused.text
                assert "retry-after" in refused.headers
            assert upstream.count(not_a_retry) == 0
            assert healthy_gauge(server).endswith(" 0.0")
            listing = server.cli("index", "list").stdout
            assert "up: upstream unhealthy since" in listing
            assert "failure(s) in a row; next retry at" in listing
            assert api_view(server, "admin")["upstream_health"]["healthy"] is False
            assert api_view(server, "read")["upstream_health"] is None  # nor its configuration

            upstream.clear_faults()
            wait_for(lambda: upstream_report(server)["healthy"] is True, "a background retry")
            fresh_page = client.get("/up/simple/kept/")
            assert fresh_page.status_code == 200 and "x-stilton-stale" not in fresh_page.headers
            assert healthy_gauge(server).endswith(" 1.0")
            assert "up: upstream unhealthy" not in server.cli("index", "list").stdout
            assert api_view(server, "admin")["upstream_health"]["healthy"] is True


def test_every_worker_reports_what_one_worker_judged(tmp_path: Path) -> None:
    with (
        FakeUpstream() as upstream,
        StiltonServer(tmp_path, workers=2, settings=SETTINGS, ready_timeout=120) as server,
    ):
        create_proxy(server, upstream)
        with fresh(server) as client:
            assert client.get("/up/simple/kept/").status_code == 200
            upstream.set_fault(Fault.RESET)
            # At least one worker sees three failures in a row (each answers with the kept page).
            for _ in range(REQUESTS):
                assert client.get("/up/simple/kept/").status_code == 200
        wait_for(lambda: upstream_report(server)["healthy"] is False, "/-/ready saying so")
        for _ in range(REQUESTS):  # whichever worker answers
            assert upstream_report(server)["healthy"] is False
        assert healthy_gauge(server).endswith(" 0.0")  # the least over the workers
        assert "up: upstream unhealthy since" in server.cli("index", "list").stdout

        upstream.clear_faults()
        wait_for(lambda: healthy_gauge(server).endswith(" 1.0"), "every worker healthy again")
        wait_for(lambda: upstream_report(server)["healthy"] is True, "/-/ready saying so")
        with fresh(server) as client:
            for _ in range(REQUESTS):
                page = client.get("/up/simple/kept/")
                assert page.status_code == 200 and "x-stilton-stale" not in page.headers
