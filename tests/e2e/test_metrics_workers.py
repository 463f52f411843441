"""``/-/metrics`` of a real server with one worker and with two: it parses with
prometheus-client's parser, and its counts are the whole server's, whichever worker answered
each request and whichever answers the scrape."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.dists import Dist
from tests.support.metrics import Samples, parse_samples, value
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

REQUESTS = 24


def scrape(server: StiltonServer) -> Samples:
    response = httpx.get(server.url + "/-/metrics", trust_env=False, timeout=30.0)
    assert response.status_code == 200, response.text
    return parse_samples(response.text)


@pytest.mark.parametrize("workers", [1, 2])
def test_counters_add_up_over_the_workers(workers: int, tmp_path: Path) -> None:
    with FakeUpstream() as upstream, StiltonServer(tmp_path, workers=workers) as server:
        upstream.add(Dist("counted", "1.0"), sdist=False)
        server.cli("index", "create", "up", "--kind", "proxy", "--upstream", upstream.simple_url)
        before = scrape(server)
        page = server.index_url("up") + "counted/"
        accept = {"Accept": "application/vnd.pypi.simple.v1+json"}

        for _ in range(REQUESTS):  # a connection each, so the kernel spreads them
            assert httpx.get(page, trust_env=False, headers=accept).status_code == 200
        link = httpx.get(page, trust_env=False, headers=accept).json()["files"][0]["url"]
        wheel = httpx.get(httpx.URL(page).join(link), trust_env=False)
        assert wheel.status_code == 200
        after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("stilton_requests_total", route="simple_page", status="200") == REQUESTS + 1
    assert moved("stilton_requests_total", route="file", status="200") == 1
    assert moved("stilton_request_duration_seconds_count", route="simple_page") == REQUESTS + 1
    hits = moved("stilton_page_cache_total", result="hit")
    misses = moved("stilton_page_cache_total", result="miss")
    assert hits + misses >= REQUESTS + 1 and hits >= REQUESTS + 1 - 2 * workers
    assert moved("stilton_upstream_requests_total", index="up", status="200") >= 2
    assert moved("stilton_upstream_received_bytes_total", index="up") >= len(wheel.content)
    assert value(after, "stilton_proxy_cache_bytes", index="up") == len(wheel.content)
    assert value(after, "stilton_proxy_cache_files", index="up") == 1
    shared = sorted(p.name for p in (server.data_dir / "metrics").glob("*.db"))
    assert bool(shared) == (workers > 1), shared
