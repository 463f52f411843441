"""Tokens and users: what a token's scopes allow, that a user's token never does more than its
owner may, HTTP Basic with a password on every kind of route, and the checks on users that the
command line and the admin API share."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from stilton.core.errors import Conflict, InvalidInput
from stilton.core.permissions import Action
from tests.auth.conftest import (
    HOSTED,
    HOSTED_DIST,
    HOSTED_SHA256,
    OTHER,
    PRIVATE,
    Server,
    file_path,
    login,
    token_auth,
)
from tests.support.dists import Dist
from tests.support.uploads import basic_auth

JSON_ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}


def make_token(
    server: Server,
    owner: str | None,
    *,
    indexes: list[str] | None = None,
    actions: list[Action] | None = None,
    projects: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[int, dict[str, str]]:
    token_id, token = server.runtime.auth.create_token(
        None,
        "tests",
        user=owner,
        indexes=indexes,
        actions=actions,
        projects=projects,
        expires_at=expires_at,
    )
    return token_id, token_auth(token)


def read_page(server: Server, headers: dict[str, str], index: str = HOSTED) -> httpx.Response:
    response: httpx.Response = server.client.get(
        f"/{index}/simple/{HOSTED_DIST.name}/", headers=headers
    )
    return response


def change_permissions(server: Server, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.put(
        f"/api/indexes/{HOSTED}/permissions", json=PRIVATE.to_mapping(), headers=headers
    )
    return response


def wait_until(condition: object, timeout: float = 5.0) -> None:
    """Poll ``condition`` (a callable returning bool) until it holds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# -- token scopes ------------------------------------------------------------------------------


def test_index_limited_token(server: Server) -> None:
    _, auth = make_token(server, "uploader", indexes=[OTHER])
    assert server.upload(OTHER, Dist("scoped", "1.0"), auth).status_code == 200
    refused = server.upload(HOSTED, Dist("scoped", "1.1"), auth)
    assert refused.status_code == 403
    assert f"isn't allowed to upload to index {HOSTED!r}" in refused.text
    # The index limit holds for reads too: the token is known, so 403, not a challenge.
    assert read_page(server, auth).status_code == 403


def test_ownerless_index_limited_token(server: Server) -> None:
    """A token an administrator made with no owner may do what its scope says, and only there."""
    _, auth = make_token(server, None, indexes=[OTHER])
    assert server.upload(OTHER, Dist("scoped", "1.0"), auth).status_code == 200
    assert server.upload(HOSTED, Dist("scoped", "1.1"), auth).status_code == 403
    assert read_page(server, auth).status_code == 403


def test_read_only_token_cannot_upload(server: Server) -> None:
    _, auth = make_token(server, "uploader", actions=[Action.READ])
    assert read_page(server, auth).status_code == 200
    refused = server.upload(HOSTED, Dist("read-only", "1.0"), auth)
    assert refused.status_code == 403
    assert "isn't allowed to upload" in refused.text
    yank = {"project": HOSTED_DIST.name, "version": HOSTED_DIST.version}
    assert server.client.post(f"/api/indexes/{HOSTED}/yank", json=yank, headers=auth).is_error


def test_project_limited_token_uploads_only_matching_names(server: Server) -> None:
    _, auth = make_token(server, "uploader", projects=["acme-*", "exact-name"])
    assert server.upload(HOSTED, Dist("acme-widgets", "1.0"), auth).status_code == 200
    assert server.upload(HOSTED, Dist("Acme.Gadgets", "1.0"), auth).status_code == 200
    assert server.upload(HOSTED, Dist("exact-name", "1.0"), auth).status_code == 200
    refused = server.upload(HOSTED, Dist("other-thing", "1.0"), auth)
    assert refused.status_code == 403
    assert "project 'other-thing'" in refused.text
    assert (
        server.client.get(f"/{HOSTED}/simple/other-thing/", headers=login("admin")).status_code
        == 404
    )


def test_expired_token_is_refused_with_a_message(server: Server) -> None:
    _, auth = make_token(server, "uploader", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    upload = server.upload(HOSTED, Dist("late", "1.0"), auth)
    assert upload.status_code == 403
    assert "expired" in upload.text
    api = server.client.get("/api/whoami", headers=auth)
    assert api.status_code == 403
    assert "expired" in api.json()["detail"]
    read = read_page(server, auth)
    assert read.status_code == 401
    assert read.headers["WWW-Authenticate"].startswith("Basic ")


def test_token_is_refused_once_it_expires_though_just_accepted(server: Server) -> None:
    """The credential cache remembers a check, not a verdict on the expiry."""
    expires = datetime.now(UTC) + timedelta(seconds=1)
    _, auth = make_token(server, "uploader", expires_at=expires)
    assert read_page(server, auth).status_code == 200
    wait_until(lambda: read_page(server, auth).status_code == 401)
    assert datetime.now(UTC) >= expires


def test_revoked_token_is_refused_at_once(server: Server) -> None:
    token_id, auth = make_token(server, "uploader")
    assert read_page(server, auth).status_code == 200  # now in the credential cache
    server.runtime.auth.revoke_token(token_id)
    assert read_page(server, auth).status_code == 401
    assert server.upload(HOSTED, Dist("revoked", "1.0"), auth).status_code == 403
    assert server.client.get("/api/whoami", headers=auth).status_code == 403


def test_owner_revokes_own_token_through_the_api(server: Server) -> None:
    made = server.api("POST", "/tokens", "uploader", json={"description": "ci"})
    assert made.status_code == 201
    auth = token_auth(made.json()["token"])
    assert server.upload(HOSTED, Dist("by-token", "1.0"), auth).status_code == 200
    # Nobody else's token to revoke for a non-admin: 404, as if it did not exist.
    assert server.api("DELETE", f"/tokens/{made.json()['id']}", "reader").status_code == 404
    assert server.api("DELETE", f"/tokens/{made.json()['id']}", "uploader").status_code == 204
    assert server.upload(HOSTED, Dist("by-token", "1.1"), auth).status_code == 403


# -- a user's token never does more than its owner ---------------------------------------------


def test_token_of_a_reader_cannot_upload(server: Server) -> None:
    _, auth = make_token(server, "reader", actions=[Action.READ, Action.UPLOAD])
    assert read_page(server, auth).status_code == 200
    assert server.upload(HOSTED, Dist("reader-token", "1.0"), auth).status_code == 403


def test_admin_scope_on_a_non_admins_token_grants_nothing(server: Server) -> None:
    _, auth = make_token(server, "uploader", actions=[Action.ADMIN])
    assert change_permissions(server, auth).status_code == 403
    body = {"project": HOSTED_DIST.name, "filename": HOSTED_DIST.wheel_filename}
    assert (
        server.client.post(f"/api/indexes/{HOSTED}/delete", json=body, headers=auth).status_code
        == 403
    )
    assert server.client.get("/api/users", headers=auth).status_code == 403


def test_admins_token_without_admin_scope_is_not_an_admin(server: Server) -> None:
    _, auth = make_token(server, "admin")  # read and upload only
    assert server.upload(HOSTED, Dist("admin-token", "1.0"), auth).status_code == 200
    assert change_permissions(server, auth).status_code == 403
    assert server.client.get("/api/users", headers=auth).status_code == 403
    assert server.client.get("/api/whoami", headers=auth).json()["is_admin"] is False


def test_admins_token_with_admin_scope_is_an_admin(server: Server) -> None:
    _, auth = make_token(server, "admin", actions=[Action.ADMIN])
    assert change_permissions(server, auth).status_code == 200
    assert server.client.get("/api/users", headers=auth).status_code == 200


def test_token_loses_what_its_owner_loses(server: Server) -> None:
    _, auth = make_token(server, "uploader")
    assert server.upload(HOSTED, Dist("demoted", "1.0"), auth).status_code == 200
    server.runtime.auth.set_user("uploader", groups=["readers"])
    assert server.upload(HOSTED, Dist("demoted", "1.1"), auth).status_code == 403
    assert read_page(server, auth).status_code == 200


def test_token_of_a_removed_user_is_refused(server: Server) -> None:
    _, auth = make_token(server, "uploader")
    assert server.upload(HOSTED, Dist("orphan", "1.0"), auth).status_code == 200
    server.runtime.auth.remove_user("uploader")
    assert server.upload(HOSTED, Dist("orphan", "1.1"), auth).status_code == 403
    assert read_page(server, auth).status_code == 401


def test_users_make_tokens_only_for_themselves(server: Server) -> None:
    assert server.api("POST", "/tokens", "reader", json={"user": "uploader"}).status_code == 403
    made = server.api("POST", "/tokens", "reader", json={"actions": ["read"]})
    assert made.status_code == 201
    auth = token_auth(made.json()["token"])
    assert server.client.get("/api/whoami", headers=auth).json()["username"] == "reader"
    # A token does not make tokens: that needs the password.
    again = server.client.post("/api/tokens", json={}, headers=auth)
    assert again.status_code == 403


# -- HTTP Basic with a password ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/{HOSTED}/simple/",
        f"/{HOSTED}/simple/{HOSTED_DIST.name}/",
        file_path(HOSTED, HOSTED_SHA256, HOSTED_DIST.wheel_filename),
        file_path(HOSTED, HOSTED_SHA256, HOSTED_DIST.wheel_filename + ".metadata"),
        f"/{HOSTED}/pypi/{HOSTED_DIST.name}/json",
        "/api/whoami",
        f"/api/indexes/{HOSTED}",
    ],
)
def test_password_works_on_every_read_route(server: Server, path: str) -> None:
    response = server.client.get(path, headers=login("reader"))
    assert response.status_code == 200, response.text
    if not path.startswith("/api/"):
        anonymous = server.client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")


def test_password_works_for_upload(server: Server) -> None:
    assert server.upload(HOSTED, Dist("by-password", "1.0"), login("uploader")).status_code == 200
    page = server.client.get(
        f"/{HOSTED}/simple/by-password/", headers={**login("reader"), **JSON_ACCEPT}
    )
    assert [f["filename"] for f in page.json()["files"]] == [
        Dist("by-password", "1.0").wheel_filename
    ]


@pytest.mark.parametrize(
    "headers",
    [
        basic_auth("reader", "not-the-password"),
        basic_auth("nobody", "reader-password-1"),
        basic_auth("__token__", "stl_not-a-token"),
    ],
    ids=["wrong password", "unknown user", "unknown token"],
)
def test_bad_credentials_are_challenged_on_private_reads(
    server: Server, headers: dict[str, str]
) -> None:
    response = read_page(server, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert "needs valid credentials" in response.text


def test_changed_password_is_refused_at_once(server: Server) -> None:
    old = login("reader")
    assert read_page(server, old).status_code == 200  # now in the credential cache
    server.runtime.auth.set_password("reader", "a-brand-new-password")
    assert read_page(server, old).status_code == 401
    assert read_page(server, basic_auth("reader", "a-brand-new-password")).status_code == 200


def test_users_change_their_own_password_through_the_api(server: Server) -> None:
    old = login("reader")
    changed = server.api("PUT", "/users/reader/password", "reader", json={"password": "x" * 12})
    assert changed.status_code == 204
    assert read_page(server, old).status_code == 401
    assert read_page(server, basic_auth("reader", "x" * 12)).status_code == 200
    # Someone else's password is an administrator's business.
    other = server.api("PUT", "/users/uploader/password", "reader", json={"password": "y" * 12})
    assert other.status_code == 403


# -- users: the service the command line calls, and the API -----------------------------------


def test_passwords_have_at_least_eight_characters(server: Server) -> None:
    auth = server.runtime.auth
    with pytest.raises(InvalidInput, match="at least 8 characters"):
        auth.add_user("shorty", "1234567")
    with pytest.raises(InvalidInput, match="at least 8 characters"):
        auth.set_password("reader", "1234567")
    assert auth.add_user("longer", "12345678").username == "longer"
    refused = server.api("POST", "/users", "admin", json={"username": "s", "password": "1234567"})
    assert refused.status_code == 422


def test_duplicate_user_is_a_conflict(server: Server) -> None:
    with pytest.raises(Conflict):
        server.runtime.auth.add_user("reader", "some-password")
    body = {"username": "reader", "password": "some-password"}
    response = server.api("POST", "/users", "admin", json=body)
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize("username", ["__token__", "a:b", ""])
def test_invalid_usernames_are_refused(server: Server, username: str) -> None:
    with pytest.raises(InvalidInput):
        server.runtime.auth.add_user(username, "some-password")


def test_the_last_admin_cannot_be_removed(server: Server) -> None:
    auth = server.runtime.auth
    with pytest.raises(InvalidInput, match="last administrator"):
        auth.remove_user("admin")
    refused = server.api("DELETE", "/users/admin", "admin")
    assert refused.status_code == 400
    assert "last administrator" in refused.json()["detail"]
    auth.add_user("second-admin", "second-password", is_admin=True)
    second = basic_auth("second-admin", "second-password")
    assert server.client.delete("/api/users/admin", headers=second).status_code == 204
    assert [u.username for u in auth.list_users() if u.is_admin] == ["second-admin"]


def test_only_admins_manage_users(server: Server) -> None:
    body = {"username": "sneaky", "password": "sneaky-password"}
    assert server.api("POST", "/users", "uploader", json=body).status_code == 403
    assert server.api("DELETE", "/users/reader", "uploader").status_code == 403
    assert server.api("GET", "/users", "uploader").status_code == 403
    assert server.api("GET", "/users", None).status_code == 401
