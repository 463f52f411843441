"""Signing in from a browser, and a user's own tokens, through the real app: forms need the
browser's CSRF token and this origin; a session ends with a password change."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from stilton.core.names import IndexName
from tests.support.dists import Dist
from tests.support.uploads import basic_auth
from tests.ui.conftest import BROWSER, runtime_of, upload

PASSWORD = "alice-password-1"


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path, headers=BROWSER)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def sign_in(client: TestClient, username: str = "alice", password: str = PASSWORD) -> None:
    response = client.post(
        "/-/login",
        data={
            "csrf": csrf_of(client, "/-/login"),
            "username": username,
            "password": password,
            "next": "/-/tokens",
        },
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/-/tokens"


def test_signing_in_and_out(client: TestClient) -> None:
    runtime_of(client).auth.add_user("alice", PASSWORD)
    assert client.get("/-/tokens", headers=BROWSER, follow_redirects=False).status_code == 303
    sign_in(client)
    page = client.get("/-/tokens", headers=BROWSER)
    assert page.status_code == 200 and "Sign out" in page.text and "alice" in page.text
    client.post("/-/logout", data={"csrf": csrf_of(client, "/")}, headers=BROWSER)
    assert client.get("/-/tokens", headers=BROWSER, follow_redirects=False).status_code == 303


def test_a_wrong_password_or_a_token_does_not_sign_in(client: TestClient) -> None:
    runtime = runtime_of(client)
    runtime.auth.add_user("alice", PASSWORD)
    _, token = runtime.auth.create_token(None, "t", user="alice")
    for username, password in (("alice", "wrong-password"), ("__token__", token), ("bob", "x")):
        response = client.post(
            "/-/login",
            data={"csrf": csrf_of(client, "/-/login"), "username": username, "password": password},
            headers=BROWSER,
        )
        assert response.status_code == 400, username
        assert "Wrong username or password" in response.text
    assert "stilton_session" not in client.cookies


def test_forms_need_the_csrf_token_and_this_origin(client: TestClient) -> None:
    runtime_of(client).auth.add_user("alice", PASSWORD)
    data = {"csrf": "forged", "username": "alice", "password": PASSWORD}
    assert client.post("/-/login", data=data, headers=BROWSER).status_code == 403
    data["csrf"] = csrf_of(client, "/-/login")
    foreign = {**BROWSER, "Origin": "https://elsewhere.example"}
    assert client.post("/-/login", data=data, headers=foreign).status_code == 403
    sign_in(client)
    forged = client.post(
        "/-/tokens", data={"csrf": "forged", "index": "local", "action": "read"}, headers=BROWSER
    )
    assert forged.status_code == 403


def test_making_using_and_revoking_a_token(client: TestClient) -> None:
    runtime = runtime_of(client)
    runtime.auth.add_user("alice", PASSWORD, is_admin=True)
    sign_in(client)
    made = client.post(
        "/-/tokens",
        data={
            "csrf": csrf_of(client, "/-/tokens"),
            "description": "ci <uploads>",
            "index": "local",
            "action": "upload",
            "expires": "7",
        },
        headers=BROWSER,
    )
    assert made.status_code == 201
    token = re.search(r'id="new-token">([^<]+)<', made.text)
    assert token is not None
    assert "ci &lt;uploads&gt;" in made.text
    token_id = int(re.findall(r'action="/-/tokens/(\d+)/revoke"', made.text)[0])
    scope = next(r for r in runtime.auth.list_tokens() if r.id == token_id)
    assert scope.scopes == {"actions": ["upload"], "indexes": ["local"]} and scope.expires_at
    auth = basic_auth("__token__", token.group(1))
    assert client.get("/api/whoami", headers=auth).status_code == 200
    client.post(
        f"/-/tokens/{token_id}/revoke", data={"csrf": csrf_of(client, "/-/tokens")}, headers=BROWSER
    )
    assert f"/-/tokens/{token_id}/revoke" not in client.get("/-/tokens", headers=BROWSER).text
    assert client.get("/api/whoami", headers=auth).status_code in (401, 403)


def test_a_user_cannot_revoke_someone_elses_token(client: TestClient) -> None:
    runtime = runtime_of(client)
    runtime.auth.add_user("alice", PASSWORD)
    runtime.auth.add_user("bob", "bob-password-22")
    bobs, _ = runtime.auth.create_token(None, "bob's", user="bob")
    sign_in(client)
    response = client.post(
        f"/-/tokens/{bobs}/revoke", data={"csrf": csrf_of(client, "/-/tokens")}, headers=BROWSER
    )
    assert response.status_code == 404
    assert not next(r for r in runtime.auth.list_tokens() if r.id == bobs).revoked


def test_a_password_change_ends_the_session(client: TestClient) -> None:
    runtime = runtime_of(client)
    runtime.auth.add_user("alice", PASSWORD)
    sign_in(client)
    runtime.auth.set_password("alice", "another-password-2")
    assert client.get("/-/tokens", headers=BROWSER, follow_redirects=False).status_code == 303


def test_a_session_reads_private_pages_and_files(client: TestClient) -> None:
    runtime = runtime_of(client)
    upload(client, Dist("secret-pkg", "1.0"))
    from stilton.core.permissions import Acl

    runtime.set_permissions("local", Acl(read=("user:alice",)))
    runtime.auth.add_user("alice", PASSWORD)
    assert (
        client.get("/local/secret-pkg/", headers=BROWSER, follow_redirects=False).status_code == 303
    )
    sign_in(client)
    page = client.get("/local/secret-pkg/", headers=BROWSER)
    assert page.status_code == 200
    link = re.search(r'href="(/local/files/[^"]+)"', page.text)
    assert link is not None
    assert client.get(link.group(1)).status_code == 200
    assert IndexName("local") in {r.name for r in runtime.list_indexes()}


def test_the_admin_page_is_for_administrators(client: TestClient) -> None:
    runtime = runtime_of(client)
    runtime.auth.add_user("alice", PASSWORD)
    sign_in(client)
    assert client.get("/-/admin", headers=BROWSER).status_code == 403
    runtime.auth.add_user("root", "root-password-1", is_admin=True)
    sign_in(client, "root", "root-password-1")
    upload(client, Dist("fresh-pkg", "1.0"))
    page = client.get("/-/admin?collisions=1", headers=BROWSER)
    assert page.status_code == 200
    assert (
        "fresh_pkg-1.0-py3-none-any.whl" in page.text and "Hit rates are not tracked" in page.text
    )
