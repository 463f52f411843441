"""The web interface never shows a private index's projects to someone who may not read it,
directly or through a group, cached or not, in lists, pages or search; and never shows an
upstream's credentials. Runs over the auth tests' layout (tests/auth/conftest.py)."""

from __future__ import annotations

import pytest

from stilton.core.model import IndexKind
from tests.auth.conftest import (
    HOSTED,
    HOSTED_DIST,
    MIXED,
    NESTED,
    PUBLIC_PROXY,
    UPSTREAM_DIST,
    Server,
    login,
)
from tests.ui.conftest import BROWSER

PRIVATE_FILE = HOSTED_DIST.wheel_filename  # matrix_pkg-1.0-...
NAMESAKE_VERSION = "9.0"  # the public project of the same name, upstream


def get(server: Server, path: str, who: str | None = None) -> tuple[int, str, str]:
    headers = {**BROWSER, **(login(who) if who else {})}
    response = server.client.get(path, headers=headers, follow_redirects=False)
    return response.status_code, response.text, response.headers.get("location", "")


@pytest.mark.parametrize("group", [MIXED, NESTED])
def test_a_group_lists_a_private_members_projects_only_to_its_readers(
    server: Server, group: str
) -> None:
    status, anonymous, _ = get(server, f"/{group}/")
    assert status == 200
    assert UPSTREAM_DIST.name in anonymous or "No projects" in anonymous
    assert "matrix-pkg" not in anonymous
    _, reader, _ = get(server, f"/{group}/", "reader")
    assert f'href="/{group}/matrix-pkg/"' in reader


@pytest.mark.parametrize("group", [MIXED, NESTED])
def test_a_private_members_project_through_a_group(server: Server, group: str) -> None:
    path = f"/{group}/matrix-pkg/"
    status, text, _ = get(server, path, "reader")  # cached now, for a reader
    assert status == 200 and PRIVATE_FILE in text
    assert NAMESAKE_VERSION not in text  # the private name shadows the public one
    status, text, location = get(server, path)
    assert status == 303 and location.startswith("/-/login?next=")
    assert PRIVATE_FILE not in text
    status, text, _ = get(server, path, "stranger")
    assert status == 403 and PRIVATE_FILE not in text and NAMESAKE_VERSION not in text


def test_a_private_index_and_its_projects(server: Server) -> None:
    assert get(server, f"/{HOSTED}/")[0] == 303
    assert get(server, f"/{HOSTED}/matrix-pkg/")[0] == 303
    assert get(server, f"/{HOSTED}/matrix-pkg/1.0/")[0] == 303
    assert get(server, f"/{HOSTED}/", "stranger")[0] == 403
    status, text, _ = get(server, f"/{HOSTED}/matrix-pkg/", "reader")
    assert status == 200 and PRIVATE_FILE in text


def test_the_home_page_shows_private_indexes_only_to_readers(server: Server) -> None:
    assert f'href="/{HOSTED}/"' not in get(server, "/")[1]
    assert f'href="/{HOSTED}/"' not in get(server, "/", "stranger")[1]
    assert f'href="/{HOSTED}/"' in get(server, "/", "reader")[1]


def test_search_finds_private_projects_only_for_their_readers(server: Server) -> None:
    for who in (None, "stranger"):
        _, text, _ = get(server, "/search?q=matrix", who)
        assert f'href="/{HOSTED}/matrix-pkg/"' not in text, who
    _, text, _ = get(server, "/search?q=matrix", "reader")
    assert f'href="/{HOSTED}/matrix-pkg/"' in text
    _, text, _ = get(server, "/search?q=upstream-pkg")
    assert f'href="/{PUBLIC_PROXY}/upstream-pkg/"' in text


def test_upstream_credentials_are_never_shown(server: Server) -> None:
    url = server.upstream.simple_url.replace("http://", "http://mirror-user:url-secret@")
    server.runtime.create_index(
        "with-secrets",
        IndexKind.PROXY,
        {"url": url, "password": "field-secret", "token": "token-secret"},
    )
    server.runtime.create_index("secret-group", IndexKind.GROUP, members=["with-secrets"])
    server.client.get(f"/with-secrets/simple/{UPSTREAM_DIST.name}/")
    pages = [
        "/",
        "/with-secrets/",
        "/secret-group/",
        f"/with-secrets/{UPSTREAM_DIST.name}/",
        f"/secret-group/{UPSTREAM_DIST.name}/",
        "/-/admin",
    ]
    for path in pages:
        status, text, _ = get(server, path, "admin")
        assert status == 200, path
        for secret in ("url-secret", "field-secret", "token-secret", "mirror-user"):
            assert secret not in text, (path, secret)
    _, project, _ = get(server, f"/with-secrets/{UPSTREAM_DIST.name}/", "admin")
    assert "From upstream" in project and "last confirmed" in project
