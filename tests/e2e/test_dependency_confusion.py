"""Dependency confusion and supply-chain policies with the real installers: a private package
is never replaced by a public one of the same name, routed names never come from upstream, and
a release-age cooldown decides which version resolvers pick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.clients import (
    ClientError,
    Installer,
    PdmAdd,
    Pip,
    PoetryAdd,
    UvPip,
    Workspace,
    write_dists,
)
from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

PRIVATE = Dist("dc-acme-utils", "1.0", module_body='__version__ = "1.0"\nORIGIN = "private"\n')
PUBLIC = Dist("dc-acme-utils", "99.0", module_body='__version__ = "99.0"\nORIGIN = "malicious"\n')
ROUTED = Dist("dc-acme-routed", "5.0")
NOW = datetime.now(UTC)
INSTALLERS: list[Installer] = [Pip(), UvPip(), PoetryAdd(), PdmAdd()]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.add(PUBLIC)
        fake.add(ROUTED)
        fake.add(Dist("dc-cool", "1.0"), upload_time=NOW - timedelta(days=10))
        fake.add(Dist("dc-cool", "2.0"), upload_time=NOW - timedelta(days=1))
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[StiltonServer]:
    root = tmp_path_factory.mktemp("confusion")
    with StiltonServer(root, default_upstream=upstream.simple_url) as running:
        packages = root / "private-packages"
        write_dists(PRIVATE, packages)
        running.cli("import", str(packages))
        running.cli(
            "index", "create", "routed", "--kind", "group", "--members", "local,pypi",
            "--rule", "dc-acme-*=only:local",
        )  # fmt: skip
        running.cli("index", "create", "cooled", "--kind", "group", "--members", "pypi")
        running.cli("index", "policy", "cooled", "--cooldown-days", "3")
        running.cli("index", "create", "glass", "--kind", "group", "--members", "pypi")
        running.cli(
            "index", "policy", "glass", "--cooldown-days", "3", "--cooldown-exempt", "dc-cool"
        )
        yield running


def origin(workspace: Workspace, python: Path) -> str:
    code = "import dc_acme_utils; print(dc_acme_utils.ORIGIN, dc_acme_utils.__version__)"
    return workspace.run(
        [python, "-I", "-c", code], cwd=workspace.directory("neutral")
    ).stdout.strip()


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda i: i.name)
def test_the_private_package_wins(
    server: StiltonServer, upstream: FakeUpstream, workspace: Workspace, installer: Installer
) -> None:
    python = installer.install(workspace, server.simple_url, "dc-acme-utils")
    assert origin(workspace, python) == "private 1.0"
    assert upstream.count(lambda r: "dc-acme-utils" in r.path or "dc_acme_utils" in r.path) == 0


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda i: i.name)
def test_a_routed_name_never_comes_from_upstream(
    server: StiltonServer, upstream: FakeUpstream, workspace: Workspace, installer: Installer
) -> None:
    with pytest.raises(ClientError):
        installer.install(workspace, server.index_url("routed"), "dc-acme-routed")
    assert upstream.count(lambda r: "dc-acme-routed" in r.path or "dc_acme_routed" in r.path) == 0


@pytest.mark.parametrize("installer", [Pip(), UvPip()], ids=lambda i: i.name)
def test_cooldown_picks_the_newest_mature_release(
    server: StiltonServer, workspace: Workspace, installer: Installer
) -> None:
    python = installer.install(workspace, server.index_url("cooled"), "dc-cool")
    assert workspace.imported_version(python, "dc_cool") == "1.0"


@pytest.mark.parametrize("installer", [Pip(), UvPip()], ids=lambda i: i.name)
def test_break_glass_exemption(
    server: StiltonServer, workspace: Workspace, installer: Installer
) -> None:
    python = installer.install(workspace, server.index_url("glass"), "dc-cool")
    assert workspace.imported_version(python, "dc_cool") == "2.0"


def test_cooldown_versions_list_matches(server: StiltonServer) -> None:
    with httpx.Client(trust_env=False) as client:
        page = client.get(
            server.index_url("cooled") + "dc-cool/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        assert page["versions"] == ["1.0"]
        assert {f["filename"] for f in page["files"]} == {
            "dc_cool-1.0-py3-none-any.whl",
            "dc_cool-1.0.tar.gz",
        }
        info = client.get(f"{server.url}/cooled/pypi/dc-cool/json").json()
        assert info["info"]["version"] == "1.0"
