"""Auth tests run the real ASGI app (real SQLite, real blob store) in-process, with users, private
indexes of every kind and a fake upstream on a loopback port; nothing reaches a real index."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from stilton.core.model import IndexKind
from stilton.core.permissions import Acl
from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from stilton.web.state import WebState
from tests.support.dists import Dist, wheel_bytes
from tests.support.uploads import basic_auth, upload_fields
from tests.support.upstream import FakeUpstream

CLOSED_UPSTREAM = "http://127.0.0.1:9/simple/"
TESTCLIENT_ADDRESS = "testclient"  # the client host Starlette's TestClient reports

HOSTED, PROXY, GROUP, OTHER = "p-hosted", "p-proxy", "p-group", "p-other"
# Public indexes: a hosted index, a proxy, a group of the private hosted index then the public
# proxy (like the default "main" over a private "local"), a group over the public hosted index,
# and a group over that mixed group.
PUBLIC_HOSTED, PUBLIC_PROXY = "o-hosted", "o-proxy"
MIXED, OPEN_GROUP, NESTED = "o-mixed", "o-group", "o-nested"
INDEX_OF_KIND = {
    "hosted": HOSTED,
    "proxy": PROXY,
    "group": GROUP,
    "group-over-private": MIXED,
    "group-over-public": OPEN_GROUP,
}
PRIVATE = Acl(read=("group:readers", "group:uploaders"), upload=("group:uploaders",))

# Users and their passwords; "admin" is a server administrator.
PASSWORDS = {
    "reader": "reader-password-1",
    "uploader": "uploader-password-2",
    "admin": "admin-password-3",
    "stranger": "stranger-password-4",  # authenticated, in no group
}
GROUPS = {"reader": ["readers"], "uploader": ["uploaders"], "admin": [], "stranger": []}

# A project already in the hosted index (so reads, yanks and deletes have a target) ...
HOSTED_DIST = Dist("matrix-pkg", "1.0")
HOSTED_WHEEL = wheel_bytes(HOSTED_DIST)
HOSTED_SHA256 = hashlib.sha256(HOSTED_WHEEL).hexdigest()
# ... and upstream ones, reached through the proxies: a project of its own, and a public
# namesake of the private hosted project with a higher version (dependency confusion bait).
UPSTREAM_DIST = Dist("upstream-pkg", "2.0")
NAMESAKE_DIST = Dist(HOSTED_DIST.name, "9.0")


@dataclass
class Server:
    """The app under test, a client for it and the app's own runtime (the same process, so the
    same credential cache)."""

    app: ASGIApp
    client: TestClient
    upstream: FakeUpstream

    @property
    def state(self) -> WebState:
        # create_app may wrap the Starlette app; the wrapper passes its state through.
        state = cast(Any, self.app).state.stilton
        assert isinstance(state, WebState)
        return state

    @property
    def runtime(self) -> Runtime:
        return self.state.runtime

    def upload(self, index: str, dist: Dist, headers: dict[str, str]) -> httpx.Response:
        data = wheel_bytes(dist)
        response: httpx.Response = self.client.post(
            f"/{index}/",
            data=upload_fields(dist, data),
            files={"content": (dist.wheel_filename, data, "application/octet-stream")},
            headers=headers,
        )
        return response

    def api(self, method: str, path: str, who: str | None, **kwargs: Any) -> httpx.Response:
        headers = login(who) if who else {}
        response: httpx.Response = self.client.request(
            method, f"/api{path}", headers=headers, **kwargs
        )
        return response


def login(who: str) -> dict[str, str]:
    """HTTP Basic headers of one of the users in PASSWORDS."""
    return basic_auth(who, PASSWORDS[who])


def token_auth(token: str) -> dict[str, str]:
    return basic_auth("__token__", token)


def file_path(index: str, sha256: str, filename: str) -> str:
    return f"/{index}/files/{sha256}/{filename}"


def make_upstream() -> FakeUpstream:
    upstream = FakeUpstream()
    upstream.add(UPSTREAM_DIST, sdist=False)
    upstream.add(NAMESAKE_DIST, sdist=False)
    return upstream


def build_layout(server: Server) -> None:
    """Users reader, uploader and admin; private indexes of every kind (and a second hosted
    one); a file in the hosted index; the proxy's page fetched once, so its file is known."""
    runtime = server.runtime
    for username, password in PASSWORDS.items():
        runtime.auth.add_user(
            username, password, is_admin=username == "admin", groups=GROUPS[username]
        )
    runtime.create_index(HOSTED, IndexKind.HOSTED)
    runtime.create_index(OTHER, IndexKind.HOSTED)
    runtime.create_index(PROXY, IndexKind.PROXY, {"url": server.upstream.simple_url})
    runtime.create_index(GROUP, IndexKind.GROUP, members=[HOSTED, PROXY])
    for name in (HOSTED, OTHER, PROXY, GROUP):
        runtime.set_permissions(name, PRIVATE)
    runtime.create_index(PUBLIC_HOSTED, IndexKind.HOSTED)
    runtime.create_index(PUBLIC_PROXY, IndexKind.PROXY, {"url": server.upstream.simple_url})
    runtime.create_index(MIXED, IndexKind.GROUP, members=[HOSTED, PUBLIC_PROXY])
    runtime.create_index(OPEN_GROUP, IndexKind.GROUP, members=[PUBLIC_HOSTED])
    runtime.create_index(NESTED, IndexKind.GROUP, members=[MIXED])
    for index in (HOSTED, PUBLIC_HOSTED):
        assert server.upload(index, HOSTED_DIST, login("admin")).status_code == 200
    for proxy in (PROXY, PUBLIC_PROXY):
        primed = server.client.get(f"/{proxy}/simple/{UPSTREAM_DIST.name}/", headers=login("admin"))
        assert primed.status_code == 200, primed.text


@contextlib.contextmanager
def running_server(data_dir: Path, upstream: FakeUpstream) -> Iterator[Server]:
    settings = Settings.from_env(
        {},
        {
            "data_dir": data_dir,
            "max_upload_size": 2 * 2**20,
            # The default "pypi" proxy points at a closed local port.
            "default_upstream": CLOSED_UPSTREAM,
        },
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield Server(app, client, upstream)


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with make_upstream() as fake:
        yield fake


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream) -> Path:
    """A data directory with the layout built once (argon2 is slow on purpose); each server
    starts on a copy of it, made while no server has it open."""
    data_dir = tmp_path_factory.mktemp("template") / "data"
    with running_server(data_dir, upstream) as server:
        build_layout(server)
    return data_dir


@contextlib.contextmanager
def server_on_copy(template: Path, target: Path, upstream: FakeUpstream) -> Iterator[Server]:
    shutil.copytree(template, target)
    with running_server(target, upstream) as server:
        yield server


@pytest.fixture
def server(template: Path, tmp_path: Path, upstream: FakeUpstream) -> Iterator[Server]:
    """A fresh server per test: its own copy of the layout, credential cache and guard."""
    with server_on_copy(template, tmp_path / "data", upstream) as running:
        yield running
