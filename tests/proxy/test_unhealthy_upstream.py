"""A proxy whose upstream fails again and again, however it fails: after three failures in a row
it is marked unhealthy, and then nothing waits for it. Kept pages and files are served without
asking it, anything else is a 503 at once that names it and says when it is retried, and a
background retry marks it healthy again once it answers. What reaches the upstream is counted
in its request log, not timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.settings import Settings
from tests.proxy.conftest import JSON, ProxyFactory
from tests.support.upstream import FakeUpstream, Fault, LoggedRequest
from tests.support.waiting import wait_for

PAGE = "/up/simple/alpha/"


@pytest.fixture
def retry_interval() -> float:
    return 3600.0  # no background retry during a test, unless it asks for one


@pytest.fixture
def settings(tmp_path: Path, upstream: FakeUpstream, retry_interval: float) -> Settings:
    return Settings.from_env(
        {},
        {
            "data_dir": tmp_path / "data",
            "default_upstream": upstream.simple_url,
            "generation_poll_interval": 0,
            "upstream_unhealthy_after": 3,
            "upstream_retry_interval": retry_interval,
        },
    )


def file_urls(client: TestClient, page: str = PAGE) -> dict[str, str]:
    return {f["filename"]: f["url"] for f in client.get(page, headers=JSON).json()["files"]}


def not_a_retry(request: LoggedRequest) -> bool:
    """Background retries ask HEAD of the upstream's URL; anything else came from a request."""
    return not (request.method == "HEAD" and request.path == "/simple/")


def upstream_report(client: TestClient) -> dict[str, Any]:
    ready = client.get("/-/ready")
    assert ready.status_code == 200  # about this server's own storage, whatever the upstreams
    report: dict[str, Any] = ready.json()["upstreams"]["up"]
    return report


def mark_unhealthy(client: TestClient, upstream: FakeUpstream, fault: Fault | None) -> None:
    """Three revalidations of a kept page fail (each served stale), which marks the upstream."""
    if fault is None:
        upstream.stop()
    else:
        upstream.set_fault(fault)
    for _ in range(3):
        stale = client.get(PAGE, headers=JSON)
        assert stale.status_code == 200
        assert "marked unhealthy" not in stale.headers["x-stilton-stale"]
    # Each judgement is written to the database in the background; /-/ready reads it there.
    wait_for(lambda: upstream_report(client)["healthy"] is False, "/-/ready saying so")


@pytest.mark.parametrize("fault", [Fault.ERROR_500, Fault.RESET, Fault.SLOW, None])
def test_an_unhealthy_upstream_is_not_asked(
    proxy: ProxyFactory, upstream: FakeUpstream, fault: Fault | None
) -> None:
    client = proxy(ttl=0, read_timeout=0.3)  # SLOW holds each answer 1.5 s
    urls = file_urls(client)
    kept, other = urls["alpha-1.0-py3-none-any.whl"], urls["alpha-1.1-py3-none-any.whl"]
    assert client.get(kept).status_code == 200
    mark_unhealthy(client, upstream, fault)
    upstream.clear_requests()

    for _ in range(5):
        stale = client.get(PAGE, headers=JSON)
        assert stale.status_code == 200
        assert "Upstream marked unhealthy" in stale.headers["x-stilton-stale"]
    assert client.get(kept).status_code == 200
    for path in (other, "/up/simple/beta/", "/up/pypi/beta/json"):
        refused = client.get(path)
        assert refused.status_code == 503, path
        assert refused.text.startswith("Upstream marked unhealthy: proxy index 'up'")
        assert upstream.simple_url in refused.text
        assert "retried in the background at" in refused.text
        assert int(refused.headers["retry-after"]) > 3000
    assert upstream.count(not_a_retry) == 0


def test_a_kept_wheel_gives_its_metadata_while_unhealthy(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    """The metadata of a kept wheel that was never asked for comes out of the wheel itself."""
    client = proxy(ttl=0)
    urls = file_urls(client)
    kept = urls["alpha-1.0-py3-none-any.whl"]
    assert client.get(kept).status_code == 200
    mark_unhealthy(client, upstream, Fault.ERROR_500)
    upstream.clear_requests()

    metadata = client.get(kept.split("#")[0] + ".metadata")

    assert metadata.status_code == 200
    assert b"Name: alpha" in metadata.content
    assert b"Version: 1.0" in metadata.content
    other = client.get(urls["alpha-1.1-py3-none-any.whl"].split("#")[0] + ".metadata")
    assert other.status_code == 503  # a wheel not kept: its metadata can only come from upstream
    assert upstream.count(not_a_retry) == 0


def test_failures_with_answers_in_between_do_not_mark_it(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0)
    client.get(PAGE)
    for _ in range(4):
        upstream.set_fault(Fault.ERROR_500)
        client.get(PAGE)
        client.get(PAGE)
        upstream.clear_faults()
        client.get("/up/simple/beta/")
    upstream.set_fault(Fault.NOT_FOUND)  # answers, though not the wanted ones
    for _ in range(5):
        assert client.get("/up/simple/gamma/").status_code == 404

    assert upstream_report(client) == {"healthy": True}
    upstream.clear_faults()
    assert "x-stilton-stale" not in client.get(PAGE).headers


@pytest.mark.parametrize("retry_interval", [0.2])
def test_a_background_retry_marks_it_healthy_again(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0)
    client.get(PAGE)
    mark_unhealthy(client, upstream, Fault.ERROR_500)
    report = upstream_report(client)
    assert report["failures"] >= 3 and "500" in report["last_error"]
    assert report["retry_at"] is not None
    wait_for(lambda: upstream.count(lambda r: r.method == "HEAD") >= 2, "retries while down")
    assert client.get("/up/simple/beta/").status_code == 503

    upstream.clear_faults()
    wait_for(lambda: upstream_report(client)["healthy"] is True, "a retry that heals it")
    assert client.get("/up/simple/beta/").status_code == 200
    assert "x-stilton-stale" not in client.get(PAGE).headers
    metrics = client.get("/-/metrics").text
    assert 'stilton_upstream_healthy{index="up"} 1.0' in metrics


@pytest.mark.parametrize("retry_interval", [0.2])
def test_a_stopped_upstream_that_comes_back_is_healthy_again(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0)
    client.get(PAGE)
    mark_unhealthy(client, upstream, None)
    assert client.get("/up/simple/beta/").status_code == 503
    metrics = client.get("/-/metrics").text
    assert 'stilton_upstream_healthy{index="up"} 0.0' in metrics
    assert 'stilton_upstream_errors_total{index="up",kind="unavailable"} 1.0' in metrics

    upstream.start()
    wait_for(lambda: upstream_report(client)["healthy"] is True, "a retry that heals it")
    assert client.get("/up/simple/beta/").status_code == 200
