"""Real installers resolve a dependency tree through a proxy index of a fake upstream, then again
from Stilton's cache alone once the upstream is gone (fresh pages within the TTL, stale-if-error
pages past it); across all of them the upstream sends each file at most once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypi_simple import ACCEPT_JSON_ONLY

from tests.support.clients import Installer, PdmAdd, Pip, PoetryAdd, UvPip, Workspace
from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream, LoggedRequest

pytestmark = pytest.mark.e2e

APP = Dist("px-app", "1.0", requires_dist=("px-lib>=1.0", "px-util"))
TREE = (
    Dist("px-lib", "0.9"),
    Dist("px-lib", "1.0"),
    Dist("px-lib", "1.1"),
    Dist("px-util", "2.0"),
    APP,
)
PROJECTS = ("px-app", "px-lib", "px-util")
# Resolving px-app must pick the newest px-lib it allows; module name to version.
INSTALLED = {"px_app": "1.0", "px_lib": "1.1", "px_util": "2.0"}
INSTALLED_WHEELS = tuple(d.wheel_filename for d in TREE if INSTALLED.get(d.module) == d.version)
INSTALLERS = (Pip(), UvPip(), PoetryAdd(), PdmAdd())
STALE_HEADER = "x-stilton-stale"


@pytest.fixture(scope="module")
def stilton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    """This module's own server; each test adds a proxy index of its own to it. (The name is the
    one the e2e conftest looks for to attach the server's log to a failure.)"""
    with StiltonServer(tmp_path_factory.mktemp("proxy-install")) as server:
        yield server


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """The dependency tree upstream, one per test, since the tests stop it."""
    with FakeUpstream() as fake:
        for dist in TREE:
            fake.add(dist)
        yield fake


def create_proxy(server: StiltonServer, name: str, upstream: FakeUpstream, *options: str) -> str:
    """A new proxy index of ``upstream`` on the running server; returns its simple-API URL."""
    server.cli(
        "index",
        "create",
        name,
        "--kind",
        "proxy",
        "--upstream",
        upstream.simple_url,
        *options,
        "--data-dir",
        str(server.data_dir),
    )
    return server.index_url(name)


def install_tree(installer: Installer, workspace: Workspace, index_url: str) -> None:
    """``installer`` installs px-app from ``index_url`` into a new environment, with the right
    version of every package of the tree."""
    python = installer.install(workspace, index_url, APP.name)
    installed = {module: workspace.imported_version(python, module) for module in INSTALLED}
    assert installed == INSTALLED


def upstream_files() -> list[str]:
    return [name for dist in TREE for name in (dist.wheel_filename, dist.sdist_filename)]


def downloads(upstream: FakeUpstream, path: str) -> int:
    """Whole-file GETs of ``path`` the upstream answered (range reads are not downloads)."""

    def whole_get(request: LoggedRequest) -> bool:
        return request.method == "GET" and request.path == path and "range" not in request.headers

    return upstream.count(whole_get)


def project_page(client: httpx.Client, index_url: str, project: str, accept: str) -> httpx.Response:
    response = client.get(f"{index_url}{project}/", headers={"Accept": accept})
    assert response.status_code == 200, (project, response.status_code, response.text)
    return response


def files_of(response: httpx.Response) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = response.json()["files"]
    return files


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda installer: installer.name)
def test_install_through_the_proxy_then_from_its_cache_alone(
    installer: Installer, stilton_server: StiltonServer, upstream: FakeUpstream, tmp_path: Path
) -> None:
    index_url = create_proxy(stilton_server, f"px-{installer.name}", upstream)
    install_tree(installer, Workspace(tmp_path / "online"), index_url)
    # Within the TTL every page came from the upstream once, whatever the installer asked.
    assert {p: upstream.count(f"/simple/{p}/") for p in PROJECTS} == dict.fromkeys(PROJECTS, 1)

    upstream.stop()

    install_tree(installer, Workspace(tmp_path / "offline"), index_url)


def test_expired_pages_are_served_stale_while_the_upstream_is_down(
    stilton_server: StiltonServer, upstream: FakeUpstream, tmp_path: Path
) -> None:
    index_url = create_proxy(stilton_server, "px-stale", upstream, "--ttl", "0")
    install_tree(UvPip(), Workspace(tmp_path / "warm"), index_url)
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        fresh = {p: project_page(client, index_url, p, ACCEPT_JSON_ONLY) for p in PROJECTS}
        assert not [p for p, response in fresh.items() if STALE_HEADER in response.headers]

        upstream.stop()

        for project in PROJECTS:
            stale_json = project_page(client, index_url, project, ACCEPT_JSON_ONLY)
            stale_html = project_page(client, index_url, project, "text/html")
            for stale in (stale_json, stale_html):
                assert stale.headers.get(STALE_HEADER, "").startswith("since="), stale.headers
            assert files_of(stale_json) == files_of(fresh[project])
    for installer in (Pip(), UvPip()):
        install_tree(installer, Workspace(tmp_path / installer.name), index_url)


def test_the_upstream_sends_each_file_at_most_once(
    stilton_server: StiltonServer, upstream: FakeUpstream, tmp_path: Path
) -> None:
    index_url = create_proxy(stilton_server, "px-shared", upstream)

    for installer in INSTALLERS:
        install_tree(installer, Workspace(tmp_path / installer.name), index_url)

    files = {name: downloads(upstream, f"/files/{name}") for name in upstream_files()}
    assert {name: count for name, count in files.items() if count > 1} == {}, files
    assert {name: files[name] for name in INSTALLED_WHEELS} == dict.fromkeys(INSTALLED_WHEELS, 1)
    metadata = {
        name: downloads(upstream, f"/files/{name}.metadata")
        for name in upstream_files()
        if name.endswith(".whl")
    }
    assert {name: count for name, count in metadata.items() if count > 1} == {}, metadata
