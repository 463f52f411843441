"""Real installers install small real packages from the public index through the default ``pypi``
proxy of a real Stilton server, whose pages carry a sha256 and core metadata for every file.
Deselected by default; run with ``uv run pytest -m live -p no:cacheprovider tests/live``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from packaging.utils import parse_wheel_filename
from pypi_simple import ACCEPT_JSON_ONLY, PYPI_SIMPLE_ENDPOINT

from tests.support.clients import UV, Installer, Pip, UvPip, Workspace, base_python, venv_python
from tests.support.server import StiltonServer

pytestmark = pytest.mark.live

INDEX = "pypi"  # the default layout's proxy of the public index
SHA256 = re.compile(r"[0-9a-f]{64}")
# (installer, requirement, projects it must install; each imports under its own name)
CASES: list[tuple[Installer, str, tuple[str, ...]]] = [
    (Pip(), "six", ("six",)),
    (UvPip(), "idna", ("idna",)),
    (Pip(), "requests", ("requests", "idna", "urllib3")),
    (UvPip(), "requests", ("requests", "idna", "urllib3")),
]


@pytest.fixture(scope="module")
def stilton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    """A server with the default layout, its ``pypi`` proxy left pointing at the public index."""
    with StiltonServer(tmp_path_factory.mktemp("live"), default_upstream=None) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=60.0) as http:
        yield http


def json_page(client: httpx.Client, url: str) -> httpx.Response:
    """The PEP 691 JSON page at ``url``."""
    response = client.get(url, headers={"Accept": ACCEPT_JSON_ONLY})
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(ACCEPT_JSON_ONLY)
    return response


@pytest.mark.parametrize(
    ("installer", "requirement", "projects"),
    CASES,
    ids=[f"{installer.name}-{requirement}" for installer, requirement, _ in CASES],
)
def test_install_from_the_public_index_through_the_proxy(
    installer: Installer,
    requirement: str,
    projects: tuple[str, ...],
    stilton_server: StiltonServer,
    client: httpx.Client,
    tmp_path: Path,
) -> None:
    index_url = stilton_server.index_url(INDEX)
    workspace = Workspace(tmp_path)

    python = installer.install(workspace, index_url, requirement)

    for project in projects:
        version = workspace.imported_version(python, project)
        assert version in json_page(client, f"{index_url}{project}/").json()["versions"], project
    # The proxy lists the projects it has seen: these came through it.
    listing = json_page(client, index_url).json()
    assert set(projects) <= {project["name"] for project in listing["projects"]}


def test_json_page_lists_hashes_and_core_metadata(
    stilton_server: StiltonServer, client: httpx.Client
) -> None:
    page_url = f"{stilton_server.index_url(INDEX)}six/"
    response = json_page(client, page_url)
    files = files_by_name(response)

    assert files
    assert all(SHA256.fullmatch(file["hashes"].get("sha256", "")) for file in files.values())
    assert {urlsplit(urljoin(page_url, file["url"])).netloc for file in files.values()} == {
        urlsplit(stilton_server.url).netloc
    }
    assert urlsplit(PYPI_SIMPLE_ENDPOINT).netloc not in response.text
    wheels = {name: file for name, file in files.items() if name.endswith(".whl")}
    # PEP 714: passed through as a hash, or `true` until first extracted from the wheel.
    assert all(
        file["core-metadata"] is True or SHA256.fullmatch(file["core-metadata"].get("sha256", ""))
        for file in wheels.values()
    ), {name: file["core-metadata"] for name, file in wheels.items()}

    newest = max(wheels, key=lambda name: parse_wheel_filename(name)[1])
    url = urljoin(page_url, files[newest]["url"])
    wheel = client.get(url)
    assert hashlib.sha256(wheel.content).hexdigest() == files[newest]["hashes"]["sha256"]
    metadata = client.get(url + ".metadata")
    assert metadata.status_code == 200, metadata.text
    assert b"\nName: six\n" in metadata.content
    expected = {"sha256": hashlib.sha256(metadata.content).hexdigest()}
    # The hash adds to a link, so the pages already rendered stay as they are; the next reading
    # of the page (another worker's, a restarted server's, or after the TTL) offers it.
    stilton_server.restart()
    listed = files_by_name(json_page(client, page_url))[newest]["core-metadata"]
    assert listed == expected


def files_by_name(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {file["filename"]: file for file in response.json()["files"]}


# A new user's first install through a fresh server: nine common packages (~30 distributions).
COMMON = (
    "requests", "rich", "httpx", "pydantic", "fastapi", "sqlalchemy", "numpy", "pandas", "django",
)  # fmt: skip


def _timed_install(workspace: Workspace, index_url: str, label: str) -> float:
    """``uv pip install --no-cache`` of the common packages into a fresh venv; seconds taken."""
    venv = workspace.root / f"venv-{label}"
    workspace.tool(UV, "venv", "--python", base_python(), venv)
    started = time.monotonic()
    workspace.tool(
        UV, "pip", "install", "--python", venv_python(venv), "--index-url", index_url,
        "--no-cache", *COMMON, timeout=900,
    )  # fmt: skip
    return time.monotonic() - started


def test_common_packages_install_cold_and_warm_through_a_fresh_server(tmp_path: Path) -> None:
    """Succeeds cold and warm; prints the times beside a direct install (run with ``-s``)."""
    workspace = Workspace(tmp_path)
    direct = _timed_install(workspace, PYPI_SIMPLE_ENDPOINT, "direct")
    with StiltonServer(tmp_path / "server", default_upstream=None) as server:
        cold = _timed_install(workspace, server.simple_url, "cold")
        warm = _timed_install(workspace, server.simple_url, "warm")
        errors = [line for line in server.read_log().splitlines() if line.startswith("ERROR")]
    print(f"\nuv pip install of {len(COMMON)} packages: direct {direct:.1f} s,"
          f" cold through Stilton {cold:.1f} s, warm {warm:.1f} s")  # fmt: skip
    assert not errors, errors
