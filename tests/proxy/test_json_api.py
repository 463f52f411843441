"""The Warehouse JSON API of a proxy: the upstream's document with URLs rewritten, or one built
from the project page and core metadata where the upstream has none."""

from __future__ import annotations

from tests.proxy.conftest import ProxyFactory
from tests.support.upstream import FakeUpstream


def test_upstream_document_with_urls_rewritten(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    response = client.get("/up/pypi/alpha/json")
    assert response.status_code == 200
    document = response.json()
    assert upstream.url not in response.text
    assert document["info"]["name"] == "alpha"
    assert document["info"]["version"] == "1.1"
    assert document["info"]["package_url"] == "http://testserver/up/simple/alpha/"
    assert set(document["releases"]) == {"1.0", "1.1"}
    for file in document["urls"]:
        sha256 = upstream.sha256(file["filename"])
        assert file["url"] == f"http://testserver/up/files/{sha256}/{file['filename']}"
        assert client.get(file["url"]).content == upstream.file_bytes(file["filename"])
    version = client.get("/up/pypi/alpha/1.0/json").json()
    assert version["info"]["version"] == "1.0"
    assert version["info"]["requires_dist"] == ["beta>=1"]


def test_built_from_the_page_without_an_upstream_json_api(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = proxy(url=upstream.find_links_url, format="find-links")
    document = client.get("/up/pypi/alpha/json").json()
    assert document["info"]["version"] == "1.1"
    assert document["info"]["requires_dist"] == ["beta>=1"]
    assert set(document["releases"]) == {"1.0", "1.1"}
    (wheel,) = document["urls"]
    assert wheel["url"].startswith("http://testserver/up/files/")
    assert client.get("/up/pypi/alpha/1.0/json").json()["info"]["requires_python"] == ">=3.8"


def test_unknown_project_or_version_is_404(proxy: ProxyFactory) -> None:
    client = proxy()
    assert client.get("/up/pypi/nothing/json").json() == {"message": "Not Found"}
    assert client.get("/up/pypi/alpha/9.9/json").status_code == 404
