"""Permissions through groups (DESIGN.md): a public group over a private hosted index serves the
private projects only to those who may read the member, and never hands the anonymous the
public namesake instead (no dependency confusion through a permission gap); pages, files,
metadata, the JSON API, project lists and the admin API all keep to it, whatever was cached
for someone else before."""

from __future__ import annotations

import pytest

from tests.auth.conftest import (
    HOSTED,
    HOSTED_DIST,
    HOSTED_SHA256,
    MIXED,
    NAMESAKE_DIST,
    NESTED,
    UPSTREAM_DIST,
    Server,
    file_path,
    login,
    token_auth,
)

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
PAGE = f"/{MIXED}/simple/{HOSTED_DIST.name}/"
WHEEL = file_path(MIXED, HOSTED_SHA256, HOSTED_DIST.wheel_filename)


def challenged(server: Server, path: str, headers: dict[str, str] | None = None) -> str:
    response = server.client.get(path, headers=headers or {})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    text: str = response.text
    assert NAMESAKE_DIST.version not in text
    return text


def test_a_private_members_project_is_refused_not_replaced(server: Server) -> None:
    message = challenged(server, PAGE)
    assert HOSTED in message  # says where it comes from, and that logging in helps
    challenged(server, PAGE, JSON)
    challenged(server, f"/{NESTED}/simple/{HOSTED_DIST.name}/")


def test_files_metadata_and_json_api_of_a_private_member_are_refused(server: Server) -> None:
    challenged(server, WHEEL)
    challenged(server, WHEEL + ".metadata")
    challenged(server, f"/{MIXED}/pypi/{HOSTED_DIST.name}/json")
    challenged(server, f"/{MIXED}/pypi/{HOSTED_DIST.name}/{HOSTED_DIST.version}/json")


def test_public_projects_still_flow_through_the_group(server: Server) -> None:
    page = server.client.get(f"/{MIXED}/simple/{UPSTREAM_DIST.name}/", headers=JSON)
    assert page.status_code == 200
    (entry,) = page.json()["files"]
    assert server.client.get(entry["url"]).status_code == 200
    assert server.client.get(f"/{MIXED}/pypi/{UPSTREAM_DIST.name}/json").status_code == 200


def test_a_reader_of_the_member_gets_the_private_project_only(server: Server) -> None:
    document = server.client.get(PAGE, headers={**JSON, **login("reader")}).json()
    assert document["versions"] == [HOSTED_DIST.version]
    assert server.client.get(WHEEL, headers=login("reader")).status_code == 200
    assert server.client.get(WHEEL + ".metadata", headers=login("reader")).status_code == 200


def test_a_user_who_may_not_read_the_member_is_forbidden_with_a_reason(server: Server) -> None:
    for path in (PAGE, WHEEL, f"/{MIXED}/pypi/{HOSTED_DIST.name}/json"):
        response = server.client.get(path, headers=login("stranger"))
        assert response.status_code == 403, path
        assert HOSTED in response.text
        assert NAMESAKE_DIST.version not in response.text


def test_what_was_cached_for_a_reader_is_never_served_to_others(server: Server) -> None:
    for headers in ({}, JSON):
        assert server.client.get(PAGE, headers={**headers, **login("reader")}).status_code == 200
    assert server.client.get(WHEEL, headers=login("reader")).status_code == 200
    challenged(server, PAGE)
    challenged(server, PAGE, JSON)
    challenged(server, WHEEL)
    assert server.client.get(WHEEL, headers=login("stranger")).status_code == 403


def test_page_from_a_private_member_is_not_for_shared_caches(server: Server) -> None:
    response = server.client.get(PAGE, headers=login("reader"))
    assert "private" in response.headers["Cache-Control"]
    public = server.client.get(f"/{MIXED}/simple/{UPSTREAM_DIST.name}/")
    assert "public" in public.headers["Cache-Control"]


@pytest.mark.parametrize("headers", [{}, JSON], ids=["html", "json"])
def test_the_project_list_names_only_readable_members_projects(
    server: Server, headers: dict[str, str]
) -> None:
    anonymous = server.client.get(f"/{MIXED}/simple/", headers=headers).text
    assert UPSTREAM_DIST.name in anonymous
    assert HOSTED_DIST.name not in anonymous
    reader = server.client.get(f"/{MIXED}/simple/", headers={**headers, **login("reader")}).text
    assert HOSTED_DIST.name in reader
    again = server.client.get(f"/{MIXED}/simple/", headers=headers).text
    assert HOSTED_DIST.name not in again


def test_a_token_scoped_to_the_group_reads_through_it(server: Server) -> None:
    _, token = server.runtime.auth.create_token(
        None, "ci", user="reader", indexes=[MIXED], actions=None
    )
    assert server.client.get(PAGE, headers=token_auth(token)).status_code == 200
    assert server.client.get(WHEEL, headers=token_auth(token)).status_code == 200
    _, stranger = server.runtime.auth.create_token(None, "ci", user="stranger", indexes=[MIXED])
    assert server.client.get(PAGE, headers=token_auth(stranger)).status_code == 403


def test_the_admin_api_shows_indexes_only_to_their_readers(server: Server) -> None:
    listed = server.api("GET", "/indexes", "stranger").json()
    names = {index["name"] for index in listed}
    assert HOSTED not in names
    assert MIXED in names
    assert all(index["configuration"] == {} for index in listed)
    assert server.api("GET", f"/indexes/{HOSTED}", "stranger").status_code == 404
    admin = {i["name"]: i for i in server.api("GET", "/indexes", "admin").json()}
    assert HOSTED in admin
    assert admin[MIXED]["configuration"]["members"] == [HOSTED, "o-proxy"]
