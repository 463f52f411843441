"""A private ``local`` index behind the default ``main`` group, with pip and uv: without
credentials the private package is refused (never replaced by its public namesake), with a
user's credentials it installs, and what was cached for that user is never served to the
anonymous afterwards; public packages still install anonymously through the same URL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import ClientError, Installer, Pip, UvPip, Workspace, write_dists
from tests.support.dists import Dist
from tests.support.server import HOST, StiltonServer
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

PRIVATE = Dist("pg-acme", "1.0", module_body='ORIGIN = "private"\n')
NAMESAKE = Dist("pg-acme", "99.0", module_body='ORIGIN = "malicious"\n')
PUBLIC = Dist("pg-public", "2.0")
INSTALLERS: list[Installer] = [Pip(), UvPip()]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.add(NAMESAKE)
        fake.add(PUBLIC)
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[tuple[StiltonServer, str]]:
    """The default layout with ``local`` private and a user who may read it; yields the server
    and that user's index URL."""
    root = tmp_path_factory.mktemp("private-group")
    with StiltonServer(root, default_upstream=upstream.simple_url) as running:
        write_dists(PRIVATE, root / "packages")
        running.cli("import", str(root / "packages"))
        running.cli("index", "permissions", "local", "--private")
        password = secrets.token_hex(12)
        running.cli("user", "add", "alice", "--password-stdin", stdin=password + "\n")
        yield running, f"http://alice:{quote(password)}@{HOST}:{running.port}/simple/"


def origin(workspace: Workspace, python: Path) -> str:
    code = "import pg_acme; print(pg_acme.ORIGIN)"
    return workspace.run([python, "-I", "-c", code], cwd=workspace.directory("n")).stdout.strip()


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda i: i.name)
def test_private_package_needs_credentials_even_after_a_user_installed_it(
    server: tuple[StiltonServer, str],
    upstream: FakeUpstream,
    tmp_path: Path,
    installer: Installer,
) -> None:
    running, with_login = server
    with pytest.raises(ClientError) as refused:
        installer.install(Workspace(tmp_path / "anonymous"), running.simple_url, PRIVATE.name)
    assert NAMESAKE.version not in str(refused.value)  # the public namesake is never offered
    user = Workspace(tmp_path / "alice")
    assert origin(user, installer.install(user, with_login, PRIVATE.name)) == "private"
    with pytest.raises(ClientError):
        installer.install(Workspace(tmp_path / "again"), running.simple_url, PRIVATE.name)
    assert upstream.count(lambda r: "pg-acme" in r.path or "pg_acme" in r.path) == 0


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda i: i.name)
def test_public_packages_install_anonymously_through_the_same_url(
    server: tuple[StiltonServer, str], workspace: Workspace, installer: Installer
) -> None:
    python = installer.install(workspace, server[0].simple_url, PUBLIC.name)
    assert workspace.imported_version(python, "pg_public") == PUBLIC.version


def test_the_anonymous_list_does_not_name_private_projects(
    server: tuple[StiltonServer, str],
) -> None:
    running, _ = server
    with httpx.Client(trust_env=False) as client:
        assert PRIVATE.name not in client.get(running.simple_url).text
