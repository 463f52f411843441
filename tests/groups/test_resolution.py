"""Group resolution through the real app: first owner wins (dependency confusion cannot happen),
merge and only rules, invalidation when a member changes, and group file URLs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.core.errors import StiltonError
from stilton.core.groups import parse_rule
from stilton.core.model import IndexKind
from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.groups.conftest import JSON, asked_about, publish
from tests.support.dists import Dist, wheel_bytes
from tests.support.upstream import FakeUpstream

PRIVATE = Dist("acme-utils", "1.0", module_body='ORIGIN = "private"\n')
PUBLIC = Dist("acme-utils", "99.0", module_body='ORIGIN = "malicious"\n')


def filenames(client: TestClient, path: str) -> set[str]:
    return {f["filename"] for f in client.get(path, headers=JSON).json()["files"]}


def test_private_name_is_never_shadowed(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, PRIVATE)
    upstream.add(PUBLIC)
    for path in ("/simple/acme-utils/", "/main/simple/acme-utils/"):
        document = client.get(path, headers=JSON).json()
        assert document["versions"] == ["1.0"]
        assert {f["filename"] for f in document["files"]} == {
            "acme_utils-1.0-py3-none-any.whl",
            "acme_utils-1.0.tar.gz",
        }
        wheel = next(f for f in document["files"] if f["filename"].endswith(".whl"))
        assert wheel["url"].startswith("/main/files/")
        assert client.get(wheel["url"]).content == wheel_bytes(PRIVATE)
        assert client.get(wheel["url"] + ".metadata").status_code == 200
    assert asked_about(upstream, "acme-utils") == 0, "a private name never goes upstream"
    info = client.get("/main/pypi/acme-utils/json").json()["info"]
    assert info["version"] == "1.0"


def test_public_names_come_from_the_upstream(client: TestClient, upstream: FakeUpstream) -> None:
    upstream.add(Dist("requests-ish", "2.0"))
    document = client.get("/simple/requests-ish/", headers=JSON).json()
    (wheel,) = [f for f in document["files"] if f["filename"].endswith(".whl")]
    assert wheel["url"].startswith("/main/files/")
    assert client.get(wheel["url"]).content == upstream.file_bytes(wheel["filename"])


def test_a_member_change_invalidates_the_group_page(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, PRIVATE)
    assert filenames(client, "/simple/acme-utils/") == {
        "acme_utils-1.0-py3-none-any.whl",
        "acme_utils-1.0.tar.gz",
    }
    publish(runtime, tmp_path, Dist("acme-utils", "1.1"))
    assert "acme_utils-1.1-py3-none-any.whl" in filenames(client, "/simple/acme-utils/")


def test_merge_rule_combines_members(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, Dist("torch-ish", "2.0+local"))
    upstream.add(Dist("torch-ish", "2.0"))
    runtime.configure("main", rules=[parse_rule("torch-ish=merge")])
    assert filenames(client, "/simple/torch-ish/") == {
        "torch_ish-2.0+local-py3-none-any.whl",
        "torch_ish-2.0+local.tar.gz",
        "torch_ish-2.0-py3-none-any.whl",
        "torch_ish-2.0.tar.gz",
    }


def test_only_rule_routes_a_prefix_to_one_member(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.add(Dist("acme-secret", "5.0"))
    runtime.configure("main", rules=[parse_rule("acme-*=only:local")])
    response = client.get("/simple/acme-secret/")
    assert response.status_code == 404
    assert asked_about(upstream, "acme-secret") == 0
    publish(runtime, tmp_path, Dist("acme-secret", "0.1"))
    assert filenames(client, "/simple/acme-secret/") == {
        "acme_secret-0.1-py3-none-any.whl",
        "acme_secret-0.1.tar.gz",
    }


def test_member_order_decides_the_owner(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, PRIVATE)
    upstream.add(PUBLIC)
    runtime.create_index("public-first", IndexKind.GROUP, members=["pypi", "local"])
    assert filenames(client, "/public-first/simple/acme-utils/") == {
        "acme_utils-99.0-py3-none-any.whl",
        "acme_utils-99.0.tar.gz",
    }


def test_group_project_list(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    publish(runtime, tmp_path, PRIVATE)
    names = [p["name"] for p in client.get("/simple/", headers=JSON).json()["projects"]]
    assert "acme-utils" in names


def test_a_file_of_a_shadowed_member_is_not_served(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, PRIVATE)
    upstream.add(PUBLIC)
    sha = upstream.sha256("acme_utils-99.0-py3-none-any.whl")
    response = client.get(f"/main/files/{sha}/acme_utils-99.0-py3-none-any.whl")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["nope"], "No index named 'nope'"),
        ([], "at least one member"),
        (["local", "local"], "each member once"),
    ],
)
def test_bad_groups_are_refused(runtime: Runtime, members: list[str], message: str) -> None:
    with pytest.raises(StiltonError, match=message):
        runtime.create_index("bad", IndexKind.GROUP, members=members)


def test_cycles_are_refused(runtime: Runtime) -> None:
    runtime.create_index("outer", IndexKind.GROUP, members=["main"])
    with pytest.raises(StiltonError, match="cycle"):
        runtime.configure("main", members=["local", "outer"])


def test_rules_must_name_members(runtime: Runtime) -> None:
    with pytest.raises(StiltonError, match="not a member"):
        runtime.configure("main", rules=[parse_rule("x=only:elsewhere")])


def test_only_rule_can_route_to_the_public_proxy(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, Dist("shared-name", "1.0"))
    upstream.add(Dist("shared-name", "2.0"))
    runtime.configure("main", rules=[parse_rule("shared-name=only:pypi")])
    assert filenames(client, "/simple/shared-name/") == {
        "shared_name-2.0-py3-none-any.whl",
        "shared_name-2.0.tar.gz",
    }


def test_a_name_published_after_the_upstream_served_it_is_owned_at_once(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The group remembers that ``local`` lacks a name; publishing it there must end that at
    once: the public files of the name are no longer served through the group."""
    upstream.add(PUBLIC)
    public = {
        f["filename"]: f for f in client.get("/simple/acme-utils/", headers=JSON).json()["files"]
    }
    wheel = public["acme_utils-99.0-py3-none-any.whl"]
    assert client.get(wheel["url"] + ".metadata").status_code == 200
    assert client.get(wheel["url"]).content == wheel_bytes(PUBLIC)

    publish(runtime, tmp_path, PRIVATE)  # another process, as the CLI would
    assert filenames(client, "/simple/acme-utils/") == {
        "acme_utils-1.0-py3-none-any.whl",
        "acme_utils-1.0.tar.gz",
    }
    for url in (wheel["url"], wheel["url"] + ".metadata"):
        assert client.get(url).status_code == 404, url
    (private,) = [
        f for f in client.get("/simple/acme-utils/", headers=JSON).json()["files"]
        if f["filename"].endswith(".whl")
    ]  # fmt: skip
    assert client.get(private["url"]).content == wheel_bytes(PRIVATE)


@pytest.fixture
def forgetful_client(settings: Settings) -> Iterator[TestClient]:
    """The app with no room for parsed upstream pages: every file request reads its entry
    back from the kept page."""
    with TestClient(create_app(replace(settings, upstream_page_bytes=1))) as test_client:
        yield test_client


def test_group_files_of_a_page_out_of_memory(
    forgetful_client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    client = forgetful_client
    for version in ("1.0", "1.1", "2.0"):
        upstream.add(Dist("spread", version))
    files = {f["filename"]: f for f in client.get("/simple/spread/", headers=JSON).json()["files"]}
    assert len(files) == 6
    for name, file in files.items():
        assert client.get(file["url"]).content == upstream.file_bytes(name)
        if name.endswith(".whl"):
            assert client.get(file["url"] + ".metadata").status_code == 200
    wheel = files["spread-2.0-py3-none-any.whl"]
    other = files["spread-1.0-py3-none-any.whl"]["hashes"]["sha256"]
    for url in (
        f"/main/files/{other}/spread-2.0-py3-none-any.whl",  # another file's digest
        f"/main/files/{wheel['hashes']['sha256']}/spread-3.0-py3-none-any.whl",  # not listed
        f"/main/files/{wheel['hashes']['sha256']}/spread-2.0-py3-none-any.whl.metadata.metadata",
    ):
        assert client.get(url).status_code == 404, url
    assert upstream.count(lambda r: r.path.endswith("/spread/")) == 1, "the kept page served"

    # A merged name: the second member's files are found the same way.
    publish(runtime, tmp_path, Dist("spread", "2.0+local"))
    runtime.configure("main", rules=[parse_rule("spread=merge")])
    merged = {f["filename"]: f for f in client.get("/simple/spread/", headers=JSON).json()["files"]}
    for name in ("spread-2.0+local-py3-none-any.whl", "spread-1.1-py3-none-any.whl"):
        assert client.get(merged[name]["url"]).status_code == 200, name
