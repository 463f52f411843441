"""The Warehouse JSON API, shaped as poetry, pdm, renovate and dependabot read it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from tests.support.dists import Dist
from tests.web.conftest import Uploader


@pytest.fixture(autouse=True)
def _published(uploader: Uploader) -> None:
    for version in ("1.0", "1.1", "2.0rc1"):
        dist = Dist("Json.Demo", version, requires_dist=("idna>=2",), requires_python=">=3.8")
        assert uploader.wheel(dist).status_code == 200
    assert uploader.sdist(Dist("Json.Demo", "1.1")).status_code == 200


def test_project_document(client: TestClient) -> None:
    response = client.get("/local/pypi/json-demo/json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert int(response.headers["x-pypi-last-serial"]) > 0
    document = response.json()
    info = document["info"]
    assert info["name"] == "Json.Demo"
    assert info["version"] == "1.1", "the latest final release, not the pre-release"
    assert info["requires_dist"] == ["idna>=2"]
    assert info["requires_python"] == ">=3.8"
    assert info["yanked"] is False
    assert set(document["releases"]) == {"1.0", "1.1", "2.0rc1"}
    assert {f["packagetype"] for f in document["urls"]} == {"bdist_wheel", "sdist"}
    for file in document["urls"]:
        assert file["url"].startswith("http://testserver/local/files/")
        assert set(file["digests"]) == {"md5", "sha256", "blake2b_256"}
        assert file["upload_time_iso_8601"].endswith("Z")
    assert document["vulnerabilities"] == []


def test_version_document(client: TestClient) -> None:
    document = client.get("/local/pypi/json-demo/1.0/json").json()
    assert document["info"]["version"] == "1.0"
    assert "releases" not in document
    assert [f["filename"] for f in document["urls"]] == ["json_demo-1.0-py3-none-any.whl"]
    canonical = client.get("/local/pypi/json-demo/1.0.0/json/")
    assert canonical.json()["info"]["version"] == "1.0"


def test_default_index_alias(client: TestClient) -> None:
    assert client.get("/pypi/json-demo/json").json()["info"]["name"] == "Json.Demo"


def test_yanked_release_is_not_latest(client: TestClient, runtime: Runtime) -> None:
    runtime.hosted("local").set_yanked("json-demo", "1.1", None, yanked=True, reason="bad")
    info = client.get("/local/pypi/json-demo/json").json()["info"]
    assert info["version"] == "1.0"
    yanked = client.get("/local/pypi/json-demo/1.1/json").json()["info"]
    assert (yanked["yanked"], yanked["yanked_reason"]) == (True, "bad")


@pytest.mark.parametrize(
    "path",
    ["/local/pypi/nothing/json", "/local/pypi/json-demo/9.9/json", "/nope/pypi/json-demo/json"],
)
def test_not_found_is_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_non_normalized_name_redirects(client: TestClient) -> None:
    response = client.get("/local/pypi/Json.Demo/1.0/json", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith("/local/pypi/json-demo/1.0/json")
