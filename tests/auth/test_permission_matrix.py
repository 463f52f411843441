"""Who may do what: every principal (anonymous, reader, uploader, admin) against every action
(read a page, read a file, upload, yank, delete, change permissions) on private indexes of every
kind (hosted, proxy, group), on a public group over a private hosted index and on a public group
over a public hosted index, one HTTP status per cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stilton.core.permissions import Acl
from tests.auth.conftest import (
    GROUP,
    HOSTED,
    HOSTED_DIST,
    HOSTED_SHA256,
    INDEX_OF_KIND,
    PRIVATE,
    PROXY,
    UPSTREAM_DIST,
    Server,
    file_path,
    login,
    server_on_copy,
)
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream

PRINCIPALS = ("anonymous", "reader", "uploader", "admin")

# The rules this table encodes, beyond "401 for anonymous reads, 403 for known principals
# without the permission, 200 when allowed":
# - Uploads without credentials are 403, PyPI's convention for the upload API (twine shows
#   the body instead of prompting).
# - Every route of the admin API (yank, delete, permissions) asks for credentials first, so
#   anonymous gets 401 with a Basic challenge there, whatever the index's kind.
# - The index's kind is decided before the caller's permission on it: uploading to, yanking on
#   or deleting from a proxy or group is 400 for every known principal, even one (the reader)
#   who could not yank or delete on a hosted index. The upload route checks the kind even
#   before credentials (web/upload.py), so an anonymous upload to a proxy or group is 400 too,
#   not 403. A 400 names what to fix (the URL), and the caller learns nothing the index's
#   readers do not know — except that an anonymous uploader learns a private index's kind.
# - Yank needs upload permission; delete and changing permissions need admin permission.
# - A public group serves a private member's project only to those who may read that member
#   (DESIGN.md, "Permissions through groups"): anonymous gets 401 there, as on the member.
#
#   action       kind      anonymous reader uploader admin
EXPECTED: list[tuple[str, str, int, int, int, int]] = [
    ("read",      "hosted",  401, 200, 200, 200),
    ("read",      "proxy",   401, 200, 200, 200),
    ("read",      "group",   401, 200, 200, 200),
    ("read-file", "hosted",  401, 200, 200, 200),
    ("read-file", "proxy",   401, 200, 200, 200),
    ("read-file", "group",   401, 200, 200, 200),
    ("read",      "group-over-private", 401, 200, 200, 200),
    ("read-file", "group-over-private", 401, 200, 200, 200),
    ("read",      "group-over-public",  200, 200, 200, 200),
    ("read-file", "group-over-public",  200, 200, 200, 200),
    ("upload",    "group-over-private", 400, 400, 400, 400),
    ("upload",    "group-over-public",  400, 400, 400, 400),
    ("yank",      "group-over-private", 401, 400, 400, 400),
    ("yank",      "group-over-public",  401, 400, 400, 400),
    ("delete",    "group-over-private", 401, 400, 400, 400),
    ("delete",    "group-over-public",  401, 400, 400, 400),
    ("admin-api", "group-over-private", 401, 403, 403, 200),
    ("admin-api", "group-over-public",  401, 403, 403, 200),
    ("upload",    "hosted",  403, 403, 200, 200),
    ("upload",    "proxy",   400, 400, 400, 400),
    ("upload",    "group",   400, 400, 400, 400),
    ("yank",      "hosted",  401, 403, 200, 200),
    ("yank",      "proxy",   401, 400, 400, 400),
    ("yank",      "group",   401, 400, 400, 400),
    ("delete",    "hosted",  401, 403, 403, 200),
    ("delete",    "proxy",   401, 400, 400, 400),
    ("delete",    "group",   401, 400, 400, 400),
    ("admin-api", "hosted",  401, 403, 403, 200),
    ("admin-api", "proxy",   401, 403, 403, 200),
    ("admin-api", "group",   401, 403, 403, 200),
]  # fmt: skip

CELLS = [
    pytest.param(action, kind, principal, status, id=f"{action}-{kind}-{principal}")
    for action, kind, *statuses in EXPECTED
    for principal, status in zip(PRINCIPALS, statuses, strict=True)
]


@pytest.fixture(scope="module")
def matrix(
    template: Path, tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[Server]:
    """One server for the whole table: every cell leaves the others' targets as they were."""
    target = tmp_path_factory.mktemp("matrix") / "data"
    with server_on_copy(template, target, upstream) as server:
        yield server


def headers_of(principal: str) -> dict[str, str]:
    return {} if principal == "anonymous" else login(principal)


def read(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    project = UPSTREAM_DIST.name if kind == "proxy" else HOSTED_DIST.name
    response: httpx.Response = server.client.get(
        f"/{index}/simple/{project}/", headers=headers_of(principal)
    )
    return response


def read_file(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    if kind == "proxy":
        filename = UPSTREAM_DIST.wheel_filename
        path = file_path(index, server.upstream.sha256(filename), filename)
    else:
        path = file_path(index, HOSTED_SHA256, HOSTED_DIST.wheel_filename)
    response: httpx.Response = server.client.get(path, headers=headers_of(principal))
    return response


def upload(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    return server.upload(index, Dist(f"new-{principal}-{kind}", "1.0"), headers_of(principal))


def yank(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    body = {"project": HOSTED_DIST.name, "version": HOSTED_DIST.version}
    response: httpx.Response = server.client.post(
        f"/api/indexes/{index}/yank", json=body, headers=headers_of(principal)
    )
    return response


def delete(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    # Each cell deletes its own file from the hosted index, so that no cell changes another's.
    victim = Dist(f"victim-{principal}-{kind}", "1.0")
    assert server.upload(HOSTED, victim, login("admin")).status_code == 200
    body = {"project": victim.name, "filename": victim.wheel_filename}
    response: httpx.Response = server.client.post(
        f"/api/indexes/{index}/delete", json=body, headers=headers_of(principal)
    )
    return response


def admin_api(server: Server, index: str, kind: str, principal: str) -> httpx.Response:
    # The same lists again: an allowed change changes nothing for the other cells.
    acl = PRIVATE if index in (HOSTED, PROXY, GROUP) else Acl()
    response: httpx.Response = server.client.put(
        f"/api/indexes/{index}/permissions",
        json=acl.to_mapping(),
        headers=headers_of(principal),
    )
    return response


ACTIONS: dict[str, Callable[[Server, str, str, str], httpx.Response]] = {
    "read": read,
    "read-file": read_file,
    "upload": upload,
    "yank": yank,
    "delete": delete,
    "admin-api": admin_api,
}


@pytest.mark.parametrize(("action", "kind", "principal", "status"), CELLS)
def test_cell(matrix: Server, action: str, kind: str, principal: str, status: int) -> None:
    response = ACTIONS[action](matrix, INDEX_OF_KIND[kind], kind, principal)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_the_table_covers_every_cell() -> None:
    cells = {(action, kind) for action, kind, *_ in EXPECTED}
    assert cells == {(action, kind) for action in ACTIONS for kind in INDEX_OF_KIND}
    assert len(CELLS) == len(ACTIONS) * len(INDEX_OF_KIND) * len(PRINCIPALS)


def test_refused_changes_change_nothing(server: Server) -> None:
    """A refused yank or delete leaves the file as it was: live and not yanked."""
    body = {"project": HOSTED_DIST.name, "filename": HOSTED_DIST.wheel_filename}
    for route, who in (("yank", "reader"), ("delete", "reader"), ("delete", "uploader")):
        refused = server.api("POST", f"/indexes/{HOSTED}/{route}", who, json=body)
        assert refused.status_code == 403
    document = server.client.get(
        f"/{HOSTED}/simple/{HOSTED_DIST.name}/",
        headers={**login("reader"), "Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    (entry,) = document["files"]
    assert entry["filename"] == HOSTED_DIST.wheel_filename
    assert entry.get("yanked", False) is False
