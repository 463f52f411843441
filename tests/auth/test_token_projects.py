"""A token whose scope names projects uploads, yanks and reads only those projects: their pages,
files, metadata and JSON documents, in the index it is for (a group too). Other projects of the
same index answer 403, and so does the index's list of projects, which would name them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from stilton.core.names import IndexName
from tests.auth.conftest import (
    GROUP,
    HOSTED,
    HOSTED_DIST,
    HOSTED_SHA256,
    PUBLIC_HOSTED,
    UPSTREAM_DIST,
    Server,
    file_path,
    login,
    token_auth,
)
from tests.support.dists import Dist, wheel_bytes

JSON_ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}
OTHER_DIST = Dist("other-pkg", "3.0")  # a project of the same index, outside the token's scope
OTHER_WHEEL = wheel_bytes(OTHER_DIST)
OTHER_SHA256 = hashlib.sha256(OTHER_WHEEL).hexdigest()
SCOPE = "Matrix_*"  # written as a person would; matched in its normalized form

Read = Callable[[Server, Dist, str, dict[str, str]], httpx.Response]


def page(server: Server, dist: Dist, sha256: str, auth: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(
        f"/{HOSTED}/simple/{dist.name}/", headers={**auth, **JSON_ACCEPT}
    )
    return response


def file(server: Server, dist: Dist, sha256: str, auth: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(
        file_path(HOSTED, sha256, dist.wheel_filename), headers=auth
    )
    return response


def metadata(server: Server, dist: Dist, sha256: str, auth: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(
        file_path(HOSTED, sha256, dist.wheel_filename) + ".metadata", headers=auth
    )
    return response


def json_api(server: Server, dist: Dist, sha256: str, auth: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(f"/{HOSTED}/pypi/{dist.name}/json", headers=auth)
    return response


READS: dict[str, Read] = {"page": page, "file": file, "metadata": metadata, "json": json_api}


def project_token(server: Server, index: str = HOSTED) -> dict[str, str]:
    """A token made by an administrator for one index, limited to the ``matrix-*`` projects."""
    _, token = server.runtime.auth.create_token(IndexName(index), "ci", projects=[SCOPE])
    return token_auth(token)


@pytest.fixture
def scoped(server: Server) -> Server:
    """The server with a second project in the private hosted index."""
    assert server.upload(HOSTED, OTHER_DIST, login("admin")).status_code == 200
    return server


@pytest.mark.parametrize("read", READS)
def test_a_project_token_reads_its_projects(scoped: Server, read: str) -> None:
    response = READS[read](scoped, HOSTED_DIST, HOSTED_SHA256, project_token(scoped))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("read", READS)
def test_a_project_token_is_refused_other_projects_of_its_index(scoped: Server, read: str) -> None:
    response = READS[read](scoped, OTHER_DIST, OTHER_SHA256, project_token(scoped))
    assert response.status_code == 403
    assert "isn't allowed to read project 'other-pkg'" in response.text
    assert OTHER_SHA256 not in response.text
    assert OTHER_DIST.version not in response.text
    assert response.content != OTHER_WHEEL
    assert scoped.client.get("/-/health").status_code == 200


def test_a_project_token_is_refused_the_list_of_projects(scoped: Server) -> None:
    auth = project_token(scoped)
    for fmt in ({}, JSON_ACCEPT):
        response = scoped.client.get(f"/{HOSTED}/simple/", headers={**auth, **fmt})
        assert response.status_code == 403
        assert "is limited to the projects 'matrix-*'" in response.text
        assert OTHER_DIST.name not in response.text
        assert HOSTED_DIST.name not in response.text
    # Unscoped credentials still get the whole list.
    listed = scoped.client.get(f"/{HOSTED}/simple/", headers=login("reader"))
    assert listed.status_code == 200
    assert OTHER_DIST.name in listed.text


def test_a_project_token_reads_through_a_group_only_its_projects(server: Server) -> None:
    auth = project_token(server, GROUP)
    own = server.client.get(f"/{GROUP}/simple/{HOSTED_DIST.name}/", headers=auth)
    assert own.status_code == 200
    other = server.client.get(f"/{GROUP}/simple/{UPSTREAM_DIST.name}/", headers=auth)
    assert other.status_code == 403
    assert f"project '{UPSTREAM_DIST.name}'" in other.text
    assert UPSTREAM_DIST.version not in other.text


def test_a_project_token_reads_a_public_index_like_anyone(server: Server) -> None:
    """The scope limits what the token adds to what anyone may do, not public reads."""
    response = server.client.get(f"/{PUBLIC_HOSTED}/simple/", headers=project_token(server))
    assert response.status_code == 200


def test_a_project_token_uploads_its_projects_only(scoped: Server) -> None:
    auth = project_token(scoped)
    assert scoped.upload(HOSTED, Dist("matrix-pkg", "1.1"), auth).status_code == 200
    refused = scoped.upload(HOSTED, Dist("other-pkg", "3.1"), auth)
    assert refused.status_code == 403
    assert "isn't allowed to upload to project 'other-pkg'" in refused.text
    listed = scoped.client.get(f"/{HOSTED}/simple/other-pkg/", headers=login("admin"))
    assert "3.1" not in listed.text


def test_a_project_token_yanks_its_projects_only(scoped: Server) -> None:
    auth = project_token(scoped)
    mine = {"project": HOSTED_DIST.name, "version": HOSTED_DIST.version, "reason": "broken"}
    yanked = scoped.client.post(f"/api/indexes/{HOSTED}/yank", json=mine, headers=auth)
    assert yanked.status_code == 200
    theirs = {"project": OTHER_DIST.name, "version": OTHER_DIST.version, "reason": "spite"}
    refused = scoped.client.post(f"/api/indexes/{HOSTED}/yank", json=theirs, headers=auth)
    assert refused.status_code == 403
    assert f"may not change files of index {HOSTED!r}" in refused.text
    other = scoped.client.get(f"/{HOSTED}/simple/other-pkg/", headers=login("admin"))
    assert "data-yanked" not in other.text
