"""Policies at response time: release-age cooldown (with exemptions, a cut-off date and unknown
upload times), allow and deny lists of projects and files; pages, file URLs, metadata and the
JSON API all agree on what is hidden."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.core.policies import Policy
from stilton.runtime import Runtime
from tests.groups.conftest import JSON, publish
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault

NOW = datetime.now(UTC)


@pytest.fixture
def aged(upstream: FakeUpstream) -> FakeUpstream:
    """tool 1.0 (30 days old), 1.1 (10 days), 2.0 (1 day), 2.1 (1 hour)."""
    for version, age in (("1.0", 30), ("1.1", 10), ("2.0", 1), ("2.1", 1 / 24)):
        upstream.add(Dist("tool", version), upload_time=NOW - timedelta(days=age))
    return upstream


def document(client: TestClient, path: str = "/simple/tool/") -> dict[str, Any]:
    response = client.get(path, headers=JSON)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def set_policy(client: TestClient, runtime: Runtime, index: str, **values: Any) -> None:
    runtime.configure(index, policy=Policy.from_mapping(values))


@pytest.mark.parametrize("index", ["main", "pypi"])
def test_cooldown_hides_recent_files(
    client: TestClient, runtime: Runtime, aged: FakeUpstream, index: str
) -> None:
    set_policy(client, runtime, index, cooldown_days=3)
    page = document(client, f"/{index}/simple/tool/")
    assert page["versions"] == ["1.0", "1.1"]
    versions = {f["filename"].removesuffix(".tar.gz").split("-")[1] for f in page["files"]}
    assert versions == {"1.0", "1.1"}
    assert "tool-2.0" not in client.get(f"/{index}/simple/tool/").text
    info = client.get(f"/{index}/pypi/tool/json").json()
    assert info["info"]["version"] == "1.1"
    assert set(info["releases"]) == {"1.0", "1.1"}
    assert client.get(f"/{index}/pypi/tool/2.0/json").status_code == 404


def test_hidden_files_are_absent_from_file_and_metadata_urls(
    client: TestClient, runtime: Runtime, aged: FakeUpstream
) -> None:
    before = {f["filename"]: f["url"] for f in document(client)["files"]}
    set_policy(client, runtime, "main", cooldown_days=3)
    url = before["tool-2.0-py3-none-any.whl"]
    assert client.get(url).status_code == 404
    assert client.get(url + ".metadata").status_code == 404
    assert client.get(before["tool-1.0-py3-none-any.whl"]).status_code == 200


def test_break_glass_exemption(client: TestClient, runtime: Runtime, aged: FakeUpstream) -> None:
    set_policy(client, runtime, "main", cooldown_days=3, cooldown_exempt=["tool"])
    assert document(client)["versions"] == ["1.0", "1.1", "2.0", "2.1"]


def test_cutoff_date(client: TestClient, runtime: Runtime, aged: FakeUpstream) -> None:
    set_policy(client, runtime, "main", cutoff=(NOW - timedelta(days=5)).isoformat())
    assert document(client)["versions"] == ["1.0", "1.1"]


def test_unknown_upload_time_hide_or_show(
    client: TestClient, runtime: Runtime, aged: FakeUpstream
) -> None:
    aged.set_fault(Fault.HTML_ONLY)  # HTML pages carry no upload time
    set_policy(client, runtime, "main", cooldown_days=3, unknown_upload_time="hide")
    assert document(client)["files"] == []
    set_policy(client, runtime, "main", cooldown_days=3, unknown_upload_time="show")
    assert len(document(client)["files"]) == 8


def test_deny_project_answers_404_saying_why(
    client: TestClient, runtime: Runtime, aged: FakeUpstream
) -> None:
    set_policy(client, runtime, "main", deny_projects=["too*"])
    response = client.get("/simple/tool/")
    assert response.status_code == 404
    assert "policy" in response.text
    assert client.get("/pypi/simple/tool/").status_code == 200, "the member is not affected"


def test_allow_list(
    client: TestClient, runtime: Runtime, aged: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, Dist("internal", "1.0"))
    set_policy(client, runtime, "main", allow_projects=["internal"])
    assert client.get("/simple/internal/").status_code == 200
    assert client.get("/simple/tool/").status_code == 404
    names = [p["name"] for p in client.get("/simple/", headers=JSON).json()["projects"]]
    assert "tool" not in names


@pytest.mark.parametrize(
    ("rule", "left"),
    [
        ({"project": "tool", "versions": "<2"}, {"2.0", "2.1"}),
        ({"packagetype": "sdist"}, {"1.0", "1.1", "2.0", "2.1"}),
        ({"project": "tool", "versions": ">=2.0,<2.1"}, {"1.0", "1.1", "2.1"}),
    ],
)
def test_deny_files(
    client: TestClient, runtime: Runtime, aged: FakeUpstream, rule: dict[str, Any], left: set[str]
) -> None:
    set_policy(client, runtime, "main", deny_files=[rule])
    page = document(client)
    assert set(page["versions"]) == left
    if rule.get("packagetype") == "sdist":
        assert all(f["filename"].endswith(".whl") for f in page["files"])


def test_deny_yanked_files(client: TestClient, runtime: Runtime, aged: FakeUpstream) -> None:
    aged.yank("tool-1.1-py3-none-any.whl", "broken")
    set_policy(client, runtime, "pypi", deny_files=[{"yanked": True}])
    files = {f["filename"] for f in document(client, "/pypi/simple/tool/")["files"]}
    assert "tool-1.1-py3-none-any.whl" not in files
    assert "tool-1.1.tar.gz" in files


def test_platform_rule(client: TestClient, runtime: Runtime, upstream: FakeUpstream) -> None:
    upstream.add(Dist("native", "1.0", tag="cp311-cp311-win_amd64"), sdist=False)
    upstream.add(Dist("native", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"), sdist=False)
    set_policy(client, runtime, "main", deny_files=[{"platform": "win*"}])
    files = {f["filename"] for f in document(client, "/simple/native/")["files"]}
    assert files == {"native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"}


def test_a_cached_page_matures_without_a_refetch(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream
) -> None:
    upstream.add(Dist("fresh", "1.0"), upload_time=datetime.now(UTC))
    set_policy(client, runtime, "main", cooldown_days=2 / 86400)  # two seconds
    assert document(client, "/simple/fresh/")["files"] == []
    fetches = upstream.count("/simple/fresh/")
    deadline = time.monotonic() + 10
    while not document(client, "/simple/fresh/")["files"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(document(client, "/simple/fresh/")["files"]) == 2
    assert upstream.count("/simple/fresh/") == fetches
