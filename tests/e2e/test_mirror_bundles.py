"""An air-gap bundle for real: a mirror's index is exported, the bundle's static tree is served
by ``python -m http.server`` on 127.0.0.1 and pip installs from it with ``--index-url``; the
bundle is imported into a second Stilton whose pages and hashes are those of the first."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mirror import graph
from tests.support.clients import Pip, Workspace
from tests.support.server import HOST, StiltonServer, find_free_port
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
PROJECTS = ("app", "base", "fancy", "left", "native", "right", "speedup")


@pytest.fixture
def source(tmp_path: Path) -> Iterator[StiltonServer]:
    """A server whose index "mirrored" holds the graph's closure (the upstream then gone)."""
    with FakeUpstream() as upstream, StiltonServer(tmp_path / "source") as server:
        graph.publish(upstream)
        requirements = [arg for root in graph.ROOTS for arg in ("--require", root)]
        server.cli(
            "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "mirrored",
            *requirements, "--with-deps", *graph.TARGET, "--latest", "1",
        )  # fmt: skip
        server.cli("mirror", "run", "m")
        upstream.stop()
        yield server


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """``python -m http.server`` on 127.0.0.1 over ``directory``; its base URL."""
    port = find_free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", HOST, "--directory", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/simple/").status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def pages(server: StiltonServer) -> dict[str, tuple[bytes, dict[str, object]]]:
    found = {}
    with httpx.Client(base_url=server.url) as client:
        for project in PROJECTS:
            html = client.get(f"/mirrored/simple/{project}/").content
            document = client.get(f"/mirrored/simple/{project}/", headers=JSON).json()
            document["meta"].pop("_last-serial")
            found[project] = (html, document)
    return found


def test_pip_installs_from_the_bundle_served_by_a_plain_web_server(
    source: StiltonServer, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    source.cli("export", "mirrored", str(bundle))

    with static_server(bundle) as base:
        for number, root in enumerate(graph.ROOTS):
            workspace = Workspace(tmp_path / f"install-{number}")
            python = Pip().install(workspace, f"{base}/simple/", root)
            module, version = ("base", "2.5") if root == "app" else ("speedup", "1.0")
            assert workspace.imported_version(python, module) == version


def test_an_imported_bundle_serves_the_same_pages_and_bytes(
    source: StiltonServer, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.tar"
    exported = source.cli("export", "mirrored", str(bundle)).stdout
    digest = exported.split("manifest sha256:")[1].split()[0]

    with StiltonServer(tmp_path / "target") as target:
        target.cli("import-bundle", str(bundle), "--manifest-sha256", digest)
        assert pages(target) == pages(source)
        with httpx.Client() as client:
            for file in pages(source)["native"][1]["files"]:  # type: ignore[attr-defined]
                url = file["url"]
                assert client.get(target.url + url).content == client.get(source.url + url).content
        again = target.cli("import-bundle", str(bundle)).stdout
        assert f"{len(graph.EXPECTED)} already present" in again.replace("\n", " ")
