"""The Simple API as clients see it: negotiation, redirects, caching headers, and pages that
pypi_simple parses completely."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
import pytest
from pypi_simple import ProjectPage
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from tests.support.dists import Dist, wheel_bytes
from tests.web.conftest import Uploader

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"

# PROTOCOLS.md §1.5 and §4: what each client sends, and what it must get.
NEGOTIATION = [
    (None, "text/html; charset=utf-8"),
    ("*/*", "text/html; charset=utf-8"),
    ("text/html", "text/html; charset=utf-8"),
    (V1_HTML, V1_HTML),
    (V1_JSON, V1_JSON),
    ("application/vnd.pypi.simple.latest+json", V1_JSON),
    ("application/vnd.pypi.simple.latest+html", V1_HTML),
    # pip >= 22.2, pdm, pipenv, renovate
    (f"{V1_JSON}, {V1_HTML}; q=0.1, text/html; q=0.01", V1_JSON),
    # uv
    (f"{V1_JSON}, {V1_HTML};q=0.2, text/html;q=0.01", V1_JSON),
    # poetry LegacyRepository
    (f"{V1_JSON}, */*;q=0.1", V1_JSON),
    # an HTML-preferring client with JSON as a fallback
    (f"text/html, {V1_JSON};q=0.5", "text/html; charset=utf-8"),
    (f"{V1_JSON};q=0.4, {V1_HTML};q=0.9", V1_HTML),
    ("text/html;q=0, */*;q=0.5", V1_HTML),
]

PEP_691_DETAIL: dict[str, Any] = {
    "type": "object",
    "required": ["meta", "name", "files", "versions"],
    "properties": {
        "meta": {
            "type": "object",
            "required": ["api-version"],
            "properties": {"api-version": {"type": "string", "pattern": r"^1\.\d+$"}},
        },
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "project-status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"enum": ["active", "archived", "quarantined", "deprecated"]}},
        },
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["filename", "url", "hashes", "size"],
                "not": {"required": ["dist-info-metadata"]},
                "properties": {
                    "filename": {"type": "string"},
                    "url": {"type": "string"},
                    "hashes": {
                        "type": "object",
                        "required": ["sha256"],
                        "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"},
                    },
                    "requires-python": {"type": "string"},
                    "core-metadata": {
                        "anyOf": [{"type": "boolean"}, {"type": "object", "required": ["sha256"]}]
                    },
                    "yanked": {"anyOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]},
                    "size": {"type": "integer", "minimum": 0},
                    "upload-time": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$",
                    },
                },
            },
        },
    },
}


@pytest.fixture
def published(uploader: Uploader) -> Dist:
    dist = Dist("Demo.Package", "1.0", requires_python=">=3.8", requires_dist=("idna>=2",))
    assert uploader.wheel(dist).status_code == 200
    assert uploader.sdist(dist).status_code == 200
    newer = Dist("Demo.Package", "1.1", requires_python=">=3.9")
    assert uploader.wheel(newer).status_code == 200
    return dist


@pytest.mark.parametrize(("accept", "content_type"), NEGOTIATION)
@pytest.mark.parametrize("path", ["/simple/", "/local/simple/", "/local/simple/demo-package/"])
def test_negotiation(
    client: TestClient, published: Dist, path: str, accept: str | None, content_type: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert "Accept" in response.headers["vary"].split(", ")


@pytest.mark.parametrize(
    ("query", "content_type"),
    [(V1_JSON, V1_JSON), ("text/html", "text/html; charset=utf-8"), (V1_HTML, V1_HTML)],
)
def test_format_parameter_overrides_accept(
    client: TestClient, published: Dist, query: str, content_type: str
) -> None:
    response = client.get(
        "/simple/demo-package/", params={"format": query}, headers={"Accept": "text/html"}
    )
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize("accept", ["application/json", "image/png", "text/plain"])
def test_unacceptable_types_get_406(client: TestClient, published: Dist, accept: str) -> None:
    response = client.get("/simple/demo-package/", headers={"Accept": accept})
    assert response.status_code == 406
    assert V1_JSON in response.text


def test_unknown_format_parameter_is_406(client: TestClient, published: Dist) -> None:
    response = client.get("/simple/demo-package/", params={"format": "json"})
    assert response.status_code == 406
    assert "json" in response.text


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/simple", "/simple/"),
        ("/local/simple", "/local/simple/"),
        ("/simple/Demo.Package/", "/simple/demo-package/"),
        ("/simple/demo_package/", "/simple/demo-package/"),
        ("/simple/demo-package", "/simple/demo-package/"),
        ("/simple/Demo__Package", "/simple/demo-package/"),
        ("/local/simple/DEMO-package/", "/local/simple/demo-package/"),
        (
            "/local/simple/DEMO-package/?format=text/html",
            "/local/simple/demo-package/?format=text/html",
        ),
    ],
)
def test_redirects(client: TestClient, published: Dist, path: str, location: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith(location)


@pytest.mark.parametrize(
    "path",
    [
        "/local/simple/nothing-here/",
        "/nosuchindex/simple/",
        "/simple/bad..name!/",
        "/local/simple/-x/",
    ],
)
def test_missing_is_404_with_reason(client: TestClient, published: Dist, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.text.strip()


def test_etag_and_304(client: TestClient, published: Dist) -> None:
    first = client.get("/simple/demo-package/", headers={"Accept": V1_JSON})
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "max-age=" in first.headers["cache-control"]
    again = client.get("/simple/demo-package/", headers={"Accept": V1_JSON, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    html = client.get("/simple/demo-package/", headers={"If-None-Match": etag})
    assert html.status_code == 200, "each representation has its own ETag"


def test_a_change_invalidates_the_cached_page(
    client: TestClient, uploader: Uploader, published: Dist
) -> None:
    before = client.get("/simple/demo-package/", headers={"Accept": V1_JSON})
    assert uploader.wheel(Dist("demo-package", "2.0")).status_code == 200
    after = client.get("/simple/demo-package/", headers={"Accept": V1_JSON})
    assert after.headers["etag"] != before.headers["etag"]
    assert "2.0" in after.json()["versions"]


def test_a_change_by_another_process_is_seen(
    client: TestClient, runtime: Runtime, published: Dist
) -> None:
    before = client.get("/simple/demo-package/", headers={"Accept": V1_JSON}).json()
    assert not any(f["yanked"] for f in before["files"])
    runtime.hosted("local").set_yanked("demo-package", "1.0", None, yanked=True, reason="broken")
    after = client.get("/simple/demo-package/", headers={"Accept": V1_JSON}).json()
    assert {f["filename"]: f["yanked"] for f in after["files"]} == {
        "demo_package-1.0-py3-none-any.whl": "broken",
        "demo_package-1.0.tar.gz": "broken",
        "demo_package-1.1-py3-none-any.whl": False,
    }


def test_json_detail_matches_pep_691(client: TestClient, published: Dist) -> None:
    document = client.get("/simple/demo-package/", headers={"Accept": V1_JSON}).json()
    jsonschema.validate(document, PEP_691_DETAIL)
    assert document["meta"]["api-version"] == "1.4"
    assert document["name"] == "demo-package"
    assert document["versions"] == ["1.0", "1.1"]
    assert document["project-status"] == {"status": "active"}
    files = {f["filename"]: f for f in document["files"]}
    wheel = files["demo_package-1.0-py3-none-any.whl"]
    data = wheel_bytes(published)
    assert wheel["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert wheel["size"] == len(data)
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["core-metadata"] == wheel["data-dist-info-metadata"]
    assert files["demo_package-1.0.tar.gz"]["core-metadata"] is False


def test_project_list(client: TestClient, published: Dist) -> None:
    document = client.get("/simple/", headers={"Accept": V1_JSON}).json()
    assert [p["name"] for p in document["projects"]] == ["Demo.Package"]
    html = client.get("/simple/").text
    assert '<a href="demo-package/">Demo.Package</a>' in html
    assert '<meta name="pypi:repository-version" content="1.4">' in html


@pytest.mark.parametrize("accept", [V1_JSON, "text/html"])
def test_pypi_simple_finds_every_file_hash_yank_and_metadata(
    client: TestClient, runtime: Runtime, published: Dist, accept: str
) -> None:
    runtime.hosted("local").set_yanked(
        "demo-package", None, "demo_package-1.1-py3-none-any.whl", yanked=True, reason="oops"
    )
    response = client.get("/local/simple/demo-package/", headers={"Accept": accept})
    if accept == V1_JSON:
        page = ProjectPage.from_json_data(response.json(), base_url=str(response.url))
    else:
        page = ProjectPage.from_html("demo-package", response.content, base_url=str(response.url))
    assert page.repository_version == "1.4"
    packages = {p.filename: p for p in page.packages}
    assert set(packages) == {
        "demo_package-1.0-py3-none-any.whl",
        "demo_package-1.0.tar.gz",
        "demo_package-1.1-py3-none-any.whl",
    }
    for filename, package in packages.items():
        assert package.project == "demo-package" or package.project == "demo_package"
        file = client.get(package.url)
        assert file.status_code == 200
        assert package.digests["sha256"] == hashlib.sha256(file.content).hexdigest()
        assert package.requires_python in (">=3.8", ">=3.9")
        if filename.endswith(".whl"):
            assert package.has_metadata
            metadata = client.get(package.metadata_url)
            assert metadata.status_code == 200
            assert package.metadata_digests == {
                "sha256": hashlib.sha256(metadata.content).hexdigest()
            }
            assert b"Name: Demo.Package" in metadata.content
        else:
            assert not package.has_metadata
    assert packages["demo_package-1.1-py3-none-any.whl"].is_yanked
    assert packages["demo_package-1.1-py3-none-any.whl"].yanked_reason == "oops"
    assert not packages["demo_package-1.0-py3-none-any.whl"].is_yanked


def test_json_list_page_parses_with_pypi_simple(client: TestClient, published: Dist) -> None:
    from pypi_simple import IndexPage

    response = client.get("/simple/", headers={"Accept": V1_JSON})
    page = IndexPage.from_json_data(json.loads(response.content))
    assert page.projects == ["Demo.Package"]


def test_default_index_is_the_main_group(client: TestClient, published: Dist) -> None:
    assert client.get("/simple/demo-package/").status_code == 200
    down = client.get("/simple/nothing-here/")
    assert down.status_code == 502, "the upstream member cannot be asked: not a 404"
    assert "Could not reach the upstream" in down.text


def test_pages_are_gzipped_for_clients_that_accept_it(client: TestClient, published: Dist) -> None:
    plain = client.get("/local/simple/demo-package/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = client.get("/local/simple/demo-package/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert "Accept-Encoding" in zipped.headers["vary"]
    again = client.get(
        "/local/simple/demo-package/",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
    )
    assert again.status_code == 304
    refused = client.get("/local/simple/demo-package/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
