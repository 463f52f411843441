"""Proxy project pages: fetched from the upstream in any format, stored, revalidated after the
TTL, served stale when the upstream fails, with every URL pointing at Stilton."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pypi_simple import ProjectPage
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.proxy.conftest import JSON, ProxyFactory
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault, UrlStyle

PAGE = "/up/simple/alpha/"


def files_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filename"]: f for f in document["files"]}


def test_page_is_rewritten_to_stilton(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    response = client.get(PAGE, headers=JSON)
    assert response.status_code == 200
    assert upstream.url not in response.text
    document = response.json()
    assert document["versions"] == ["1.0", "1.1"]
    files = files_of(document)
    wheel = files["alpha-1.0-py3-none-any.whl"]
    assert (
        wheel["url"]
        == f"/up/files/{upstream.sha256('alpha-1.0-py3-none-any.whl')}/alpha-1.0-py3-none-any.whl"
    )
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["size"] == len(upstream.file_bytes("alpha-1.0-py3-none-any.whl"))
    assert str(wheel["upload-time"]).endswith("Z")
    assert wheel["core-metadata"] == {
        "sha256": __import__("hashlib")
        .sha256(upstream.metadata_bytes("alpha-1.0-py3-none-any.whl"))
        .hexdigest()
    }
    html = client.get(PAGE).text
    page = ProjectPage.from_html("alpha", html, base_url="http://testserver" + PAGE)
    assert {p.filename for p in page.packages} == set(files)
    assert all(p.url.startswith("http://testserver/up/files/") for p in page.packages)


@pytest.mark.parametrize("fault", [Fault.HTML_ONLY, Fault.JSON_ONLY])
def test_either_upstream_format_serves_both_formats(
    proxy: ProxyFactory, upstream: FakeUpstream, fault: Fault
) -> None:
    upstream.set_fault(fault)
    client = proxy()
    document = client.get(PAGE, headers=JSON).json()
    assert set(files_of(document)) == {
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.0.tar.gz",
        "alpha-1.1-py3-none-any.whl",
    }
    assert all(f["hashes"] for f in document["files"])
    assert "alpha-1.0.tar.gz" in client.get(PAGE).text


@pytest.mark.parametrize("style", [UrlStyle.RELATIVE, UrlStyle.BASE_HREF])
def test_relative_urls_and_base_href(
    settings: Settings, proxy: ProxyFactory, style: UrlStyle
) -> None:
    with FakeUpstream(url_style=style) as other:
        other.add(Dist("gamma", "2.0"))
        client = proxy(url=other.simple_url)
        other.set_fault(Fault.HTML_ONLY)
        document = client.get("/up/simple/gamma/", headers=JSON).json()
        (wheel,) = [f for f in document["files"] if f["filename"].endswith(".whl")]
        assert client.get(wheel["url"]).content == other.file_bytes("gamma-2.0-py3-none-any.whl")


def test_find_links_upstream(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy(url=upstream.find_links_url, format="find-links")
    document = client.get("/up/simple/beta/", headers=JSON).json()
    assert set(files_of(document)) == {"beta-1.0-py3-none-any.whl", "beta-1.0.tar.gz"}
    assert client.get("/up/simple/nothing/").status_code == 404


def test_pages_are_reused_within_the_ttl(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    for _ in range(3):
        assert client.get(PAGE, headers=JSON).status_code == 200
        assert client.get(PAGE).status_code == 200
    assert upstream.count("/simple/alpha/") == 1


def test_revalidation_uses_the_upstreams_validators(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0)
    client.get(PAGE, headers=JSON)
    client.get(PAGE, headers=JSON)
    conditional = [
        r for r in upstream.requests if r.path == "/simple/alpha/" and "if-none-match" in r.headers
    ]
    assert conditional
    assert conditional[-1].status == 304


def test_changes_upstream_show_after_the_ttl(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy(ttl=0)
    assert "alpha-1.1-py3-none-any.whl" in files_of(client.get(PAGE, headers=JSON).json())
    upstream.add(Dist("alpha", "2.0"), sdist=False)
    upstream.remove_file("alpha-1.1-py3-none-any.whl")
    upstream.yank("alpha-1.0.tar.gz", "broken build")
    files = files_of(client.get(PAGE, headers=JSON).json())
    assert "alpha-2.0-py3-none-any.whl" in files
    assert "alpha-1.1-py3-none-any.whl" not in files
    assert files["alpha-1.0.tar.gz"]["yanked"] == "broken build"


def test_a_project_removed_upstream_stops_being_offered(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0)
    assert client.get(PAGE).status_code == 200
    upstream.remove_project("alpha")
    assert client.get(PAGE).status_code == 404


def test_quarantined_project_serves_no_files(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy(ttl=0)
    document = client.get(PAGE, headers=JSON).json()
    url = document["files"][0]["url"]
    client.get(url)  # cached now
    upstream.set_status("alpha", "quarantined", "malware report")
    document = client.get(PAGE, headers=JSON).json()
    assert document["files"] == []
    assert document["project-status"] == {"status": "quarantined", "reason": "malware report"}
    assert 'content="quarantined"' in client.get(PAGE).text


def test_stale_serial_is_ignored(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy(ttl=0)
    upstream.add(Dist("alpha", "3.0"), sdist=False)
    assert "alpha-3.0-py3-none-any.whl" in files_of(client.get(PAGE, headers=JSON).json())
    upstream.set_fault(Fault.STALE_SERIAL)
    document = client.get(PAGE, headers=JSON).json()
    assert "alpha-3.0-py3-none-any.whl" in files_of(document)
    assert document["meta"]["_last-serial"] == upstream.project_serial("alpha")


@pytest.mark.parametrize("fault", [Fault.ERROR_500, Fault.RESET, Fault.GARBAGE])
def test_stale_if_error(proxy: ProxyFactory, upstream: FakeUpstream, fault: Fault) -> None:
    client = proxy(ttl=0)
    fresh = client.get(PAGE, headers=JSON)
    assert "x-stilton-stale" not in fresh.headers
    upstream.set_fault(fault)
    stale = client.get(PAGE, headers=JSON)
    assert stale.status_code == 200
    assert stale.json()["files"] == fresh.json()["files"]
    assert "since=" in stale.headers["x-stilton-stale"]
    upstream.clear_faults()
    assert "x-stilton-stale" not in client.get(PAGE, headers=JSON).headers


def test_stale_when_the_upstream_is_down_and_slow(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(ttl=0, read_timeout=0.5)
    client.get(PAGE, headers=JSON)
    upstream.set_fault(Fault.SLOW)
    assert "x-stilton-stale" in client.get(PAGE, headers=JSON).headers
    upstream.clear_faults()
    upstream.stop()
    assert "x-stilton-stale" in client.get(PAGE, headers=JSON).headers


def test_unknown_project_with_upstream_down_is_a_gateway_error(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(read_timeout=0.5)
    upstream.set_fault(Fault.SLOW)
    timed_out = client.get("/up/simple/beta/")
    assert timed_out.status_code == 504
    assert "did not answer in time" in timed_out.text
    upstream.clear_faults()
    upstream.stop()
    refused = client.get("/up/simple/beta/")
    assert refused.status_code == 502
    assert "Could not reach the upstream" in refused.text


def test_garbage_without_a_cached_page_is_502(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.set_fault(Fault.GARBAGE)
    response = proxy().get(PAGE)
    assert response.status_code == 502
    assert "cannot be parsed" in response.text


def test_unknown_project_is_404(proxy: ProxyFactory) -> None:
    assert proxy().get("/up/simple/does-not-exist/").status_code == 404


def test_offline_serves_only_the_cache(
    proxy: ProxyFactory, upstream: FakeUpstream, runtime: Runtime
) -> None:
    client = proxy(ttl=0)
    client.get(PAGE, headers=JSON)
    runtime.configure("up", upstream={"offline": True})
    before = len(upstream.requests)
    assert client.get(PAGE, headers=JSON).status_code == 200
    missing = client.get("/up/simple/beta/")
    assert missing.status_code == 404
    assert len(upstream.requests) == before


def test_project_list_holds_the_projects_seen(proxy: ProxyFactory) -> None:
    client = proxy()
    client.get(PAGE)
    client.get("/up/simple/beta/")
    document = client.get("/up/simple/", headers=JSON).json()
    assert [p["name"] for p in document["projects"]] == ["alpha", "beta"]


def test_pages_survive_a_restart(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    first = proxy()
    expected = first.get(PAGE, headers=JSON).json()
    first.__exit__(None, None, None)
    upstream.stop()
    time.sleep(0.1)
    settings = first.app.state.stilton.runtime.settings  # type: ignore[attr-defined]
    with TestClient(create_app(settings)) as second:
        assert second.get(PAGE, headers=JSON).json()["files"] == expected["files"]
