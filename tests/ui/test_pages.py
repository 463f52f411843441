"""The pages for people, through the real app: who gets a page and who keeps the API, what a
page shows, and that nothing from an upload runs in it."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from tests.support.dists import Dist
from tests.ui.conftest import BROWSER, upload

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1,"
    " text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2,"
    " text/html;q=0.01"
)
HOSTILE = Dist(
    "hostile-pkg",
    "1.0",
    summary="<script>alert('summary')</script>",
    description=(
        "# Hostile\n\n<script>alert('readme')</script>\n\n"
        '<img src="x" onerror="alert(1)">\n\n[click](javascript:alert(2))\n'
    ),
    requires_dist=("requests>=2", "click; extra == 'cli'"),
    requires_python=">=3.9",
)


@pytest.mark.parametrize(
    "accept", [None, "*/*", PIP_ACCEPT, UV_ACCEPT, "application/vnd.pypi.simple.v1+json, */*;q=0.1"]
)
def test_tools_asking_an_index_keep_their_redirect(client: TestClient, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/local/", headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/local/simple/"


def test_a_tool_asking_a_project_page_is_sent_to_the_simple_api(client: TestClient) -> None:
    upload(client, HOSTILE)
    response = client.get(
        "/local/hostile-pkg/", headers={"Accept": PIP_ACCEPT}, follow_redirects=False
    )
    assert response.headers["location"] == "/local/simple/hostile-pkg/"


def test_a_browser_gets_the_index_page_with_its_projects(client: TestClient) -> None:
    upload(client, HOSTILE)
    page = client.get("/local/", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/local/hostile-pkg/"' in page.text
    assert "Use this index" in page.text


def test_the_home_page_lists_every_index_and_highlights_the_default(client: TestClient) -> None:
    page = client.get("/", headers=BROWSER).text
    for name in ("local", "pypi", "main"):
        assert f'href="/{name}/"' in page
    assert re.search(r'class="card default">\s*<h2><a href="/main/">', page)


def test_nothing_from_an_upload_runs_in_a_page(client: TestClient) -> None:
    upload(client, HOSTILE)
    for path in ("/local/hostile-pkg/", "/local/", "/search?q=hostile"):
        text = client.get(path, headers=BROWSER).text
        assert "<script>alert" not in text, path
        assert "onerror" not in text and "javascript:" not in text, path
    project = client.get("/local/hostile-pkg/", headers=BROWSER).text
    assert "&lt;script&gt;alert(&#39;summary&#39;)&lt;/script&gt;" in project
    assert '<div class="readme"><h1' in project  # the README is rendered, not shown as text


def test_a_project_page_shows_files_metadata_and_versions(client: TestClient) -> None:
    upload(client, HOSTILE)
    upload(client, Dist("hostile-pkg", "2.0", summary="second"))
    page = client.get("/local/hostile-pkg/1.0/", headers=BROWSER).text
    assert "hostile_pkg-1.0-py3-none-any.whl" in page
    assert "requests&gt;=2" in page and "&gt;=3.9" in page
    assert 'href="/local/hostile-pkg/2.0/"' in page
    latest = client.get("/local/hostile-pkg/", headers=BROWSER).text
    assert "hostile_pkg-2.0-py3-none-any.whl" in latest


def test_the_urls_hatch_and_flit_print_lead_to_the_project(client: TestClient) -> None:
    upload(client, HOSTILE)
    hatch = client.get("/local/hostile-pkg/1.0/", headers=BROWSER)
    assert hatch.status_code == 200
    flit = client.get("/local//hostile_pkg", headers=BROWSER, follow_redirects=False)
    assert flit.headers["location"] == "/local/hostile-pkg/"
    assert client.get("/local//hostile_pkg", headers=BROWSER).status_code == 200


def test_a_yanked_release_says_so_with_its_reason(client: TestClient) -> None:
    upload(client, HOSTILE)
    client.app.state.stilton.runtime.hosted("local").set_yanked(  # type: ignore[attr-defined]
        "hostile-pkg", "1.0", None, yanked=True, reason="broken <b>build</b>"
    )
    page = client.get("/local/hostile-pkg/", headers=BROWSER).text
    assert "Yanked release" in page
    assert "broken &lt;b&gt;build&lt;/b&gt;" in page


def test_upload_snippets_only_for_hosted_indexes(client: TestClient) -> None:
    hosted = client.get("/local/", headers=BROWSER).text
    assert 'data-snippet="twine-pypirc"' in hosted and 'data-snippet="uv-publish"' in hosted
    for index in ("main", "pypi"):
        page = client.get(f"/{index}/", headers=BROWSER).text
        assert 'data-snippet="pip-command"' in page
        for publisher in ("twine", "uv-publish", "poetry-publish", "hatch", "flit"):
            assert f'data-snippet="{publisher}' not in page, (index, publisher)


def test_snippets_name_the_real_host_and_path(client: TestClient) -> None:
    page = client.get("/main/", headers=BROWSER).text
    assert "http://testserver/main/simple/" in page


def test_unknown_paths_are_a_page_for_browsers_and_text_for_tools(client: TestClient) -> None:
    page = client.get("/no-such-index/", headers=BROWSER)
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
    deep = client.get("/a/b/c/d/e", headers=BROWSER)
    assert deep.status_code == 404 and "text/html" in deep.headers["content-type"]
    tool = client.get("/a/b/c/d/e")
    assert tool.status_code == 404 and tool.headers["content-type"].startswith("text/plain")
    api = client.get("/a/b/c/d/e", headers={"Accept": "application/json"})
    assert api.json()["message"]


def test_favicon_robots_and_assets(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    robots = client.get("/robots.txt")
    assert "Disallow: /*/files/" in robots.text
    page = client.get("/", headers=BROWSER).text
    stylesheet = re.search(r'href="(/static/[^"]+/style.css)"', page)
    assert stylesheet is not None
    css = client.get(stylesheet.group(1))
    assert css.status_code == 200 and "immutable" in css.headers["cache-control"]


def test_pages_load_nothing_from_another_origin(client: TestClient) -> None:
    upload(client, HOSTILE)
    for path in ("/", "/local/", "/local/hostile-pkg/", "/api/docs", "/search?q=x", "/-/login"):
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 200, path
        sources = re.findall(r'(?:src|href)="([^"#]*)"', response.text)
        assert all(
            not s.startswith(("http:", "https:", "//")) or "testserver" in s for s in sources
        )
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_the_api_docs_page_lists_operations_from_the_schema(client: TestClient) -> None:
    page = client.get("/api/docs", headers=BROWSER).text
    assert "/api/tokens" in page and "/api/indexes" in page
    assert client.get("/api/openapi.json").status_code == 200
