"""Which indexes take uploads, asked of the index itself (``Index.uploads()``) through every
wrapper: a hosted index with a policy takes them, except for the projects its policy denies;
groups and proxies take none. Every refusal stores nothing and leaves no spool file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.core.policies import Policy
from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, wheel_bytes
from tests.support.uploads import basic_auth, upload_fields

POLICED = "policed"


@pytest.fixture
def policed(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app, with a hosted index whose policy denies ``forbidden-*`` and a group of it (with
    the same policy), and an upload token for every index."""
    runtime = open_runtime(settings)
    try:
        runtime.create_index(POLICED, IndexKind.HOSTED)
        runtime.create_index("team", IndexKind.GROUP, members=[POLICED])
        for name in (POLICED, "team"):
            runtime.configure(name, policy=Policy(deny_projects=("forbidden-*",)))
        auth = basic_auth("__token__", runtime.auth.create_token(None, "tests")[1])
    finally:
        runtime.close()
    with TestClient(create_app(settings)) as client:
        yield client, auth


def upload(client: TestClient, auth: dict[str, str], index: str, dist: Dist) -> httpx.Response:
    data = wheel_bytes(dist)
    files = {"content": (dist.wheel_filename, data, "application/octet-stream")}
    response: httpx.Response = client.post(
        f"/{index}/", data=upload_fields(dist, data), files=files, headers=auth
    )
    return response


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.blob_dir.rglob("*") if p.is_file()]


def test_a_hosted_index_with_a_policy_takes_uploads(
    policed: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = policed
    response = upload(client, auth, POLICED, Dist("acme-widgets", "1.0"))
    assert response.status_code == 200, response.text
    assert client.get(f"/{POLICED}/simple/acme-widgets/").status_code == 200
    assert client.get("/team/simple/acme-widgets/").status_code == 200


def test_a_project_the_policy_denies_cannot_be_uploaded(
    policed: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, auth = policed
    response = upload(client, auth, POLICED, Dist("forbidden-fruit", "1.0"))
    assert response.status_code == 400
    assert response.text.startswith(
        f"Project 'forbidden-fruit' cannot be uploaded to index '{POLICED}':"
    )
    assert "hidden by this index's policy" in response.text
    assert "change the policy, or upload to another index" in response.text
    assert stored_files(settings) == []  # no blob, no spool file
    assert client.get("/-/health").status_code == 200


@pytest.mark.parametrize(
    ("index", "kind"), [("team", "group"), ("main", "group"), ("pypi", "proxy")]
)
def test_groups_and_proxies_take_no_uploads(
    policed: tuple[TestClient, dict[str, str]], settings: Settings, index: str, kind: str
) -> None:
    client, auth = policed
    response = upload(client, auth, index, Dist("acme-widgets", "1.0"))
    assert response.status_code == 400
    assert response.text.startswith(f"Index '{index}' is a {kind} index, which takes no uploads")
    assert stored_files(settings) == []
    assert client.get("/-/health").status_code == 200
