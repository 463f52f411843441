"""A real closure mirrored from the public index: ``requests`` with its dependencies for
CPython 3.11 on manylinux x86_64, newest versions only; then pip and uv install it from the
mirror alone (the server's own proxy of the public index points at a closed port).
Deselected by default; run with ``uv run pytest -m live -p no:cacheprovider tests/live``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pypi_simple import ACCEPT_JSON_ONLY, PYPI_SIMPLE_ENDPOINT

from tests.support.clients import Installer, Pip, UvPip, Workspace
from tests.support.server import StiltonServer

pytestmark = pytest.mark.live

CLOSURE = ("requests", "certifi", "charset_normalizer", "idna", "urllib3")


def file_hosts() -> str:
    """The host the public index's files come from, read from its own page: named, so that a
    network whose resolver answers with non-public addresses does not stop the mirror."""
    response = httpx.get(
        f"{PYPI_SIMPLE_ENDPOINT}requests/", headers={"Accept": ACCEPT_JSON_ONLY}, timeout=60
    )
    response.raise_for_status()
    return str(urlsplit(response.json()["files"][-1]["url"]).netloc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    with StiltonServer(tmp_path_factory.mktemp("live-mirror")) as started:
        started.cli(
            "mirror", "add", "live", "--upstream", str(PYPI_SIMPLE_ENDPOINT),
            "--index", "mirrored", "--require", "requests", "--with-deps",
            "--python", "3.11", "--platform", "manylinux_2_17_x86_64", "--latest", "1",
            "--file-hosts", file_hosts(),
        )  # fmt: skip
        run = started.cli("mirror", "run", "live", timeout=600)
        assert "Mirror 'live': ok." in run.stdout, run.stdout + run.stderr
        yield started


@pytest.mark.parametrize("installer", [Pip(), UvPip()], ids=["pip", "uv"])
def test_requests_installs_from_the_mirror_alone(
    installer: Installer, server: StiltonServer, tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path)
    python = installer.install(workspace, server.index_url("mirrored"), "requests")
    for module in CLOSURE:
        assert workspace.imported_version(python, module)


def test_a_second_run_only_revalidates(server: StiltonServer) -> None:
    run = server.cli("mirror", "run", "live", timeout=600)
    assert "Mirror 'live': ok." in run.stdout
    status = server.cli("mirror", "status", "live").stdout
    assert "files added" not in status  # nothing new within minutes, in all likelihood
