"""A mirror against a real ``stilton serve``: the closure of a graph of real wheels is synced
with ``stilton mirror``, the upstream is stopped, and pip and uv install every root from the
mirror alone; changes upstream reach the running server on the next sync; a ``stilton mirror
run`` killed with SIGKILL resumes without fetching again what it had verified; and a mirror
with ``--every`` syncs inside the server by itself."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mirror import graph
from tests.support.clients import Installer, Pip, UvPip, Workspace
from tests.support.server import StiltonServer, stilton_command
from tests.support.upstream import FakeUpstream, Fault
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        graph.publish(fake)
        yield fake


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StiltonServer]:
    with StiltonServer(tmp_path / "server") as started:
        yield started


def add_mirror(server: StiltonServer, upstream: FakeUpstream, *extra: str) -> None:
    requirements = [arg for root in graph.ROOTS for arg in ("--require", root)]
    server.cli(
        "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "mirrored",
        *requirements, "--with-deps", *graph.TARGET, "--latest", "1", *extra,
    )  # fmt: skip


def page_files(server: StiltonServer, project: str) -> dict[str, object] | None:
    response = httpx.get(f"{server.index_url('mirrored')}{project}/", headers=JSON)
    if response.status_code != 200:
        return None
    return {f["filename"]: f.get("yanked") for f in response.json()["files"]}


@pytest.mark.parametrize("installer", [Pip(), UvPip()], ids=["pip", "uv"])
def test_every_root_installs_offline_from_the_mirror(
    installer: Installer, server: StiltonServer, upstream: FakeUpstream, tmp_path: Path
) -> None:
    add_mirror(server, upstream)
    run = server.cli("mirror", "run", "m")
    assert "Mirror 'm': ok." in run.stdout
    upstream.stop()

    for number, root in enumerate(graph.ROOTS):
        workspace = Workspace(tmp_path / f"install-{number}")
        python = installer.install(workspace, server.index_url("mirrored"), root)
        if root == "app":
            assert workspace.imported_version(python, "base") == "2.5"  # the diamond's pick
            assert workspace.imported_version(python, "native") == "1.0"
        else:
            assert workspace.imported_version(python, "speedup") == "1.0"


def test_changes_upstream_reach_the_running_server(
    server: StiltonServer, upstream: FakeUpstream
) -> None:
    add_mirror(server, upstream)
    server.cli("mirror", "run", "m")
    assert page_files(server, "speedup")
    left = "left-1.0-py3-none-any.whl"
    upstream.yank(left, "broken")
    upstream.remove_project("speedup")

    run = server.cli("mirror", "run", "m", check=False)

    assert run.returncode == 1  # speedup is needed and gone: reported
    assert f"yanked: {left}" in run.stdout
    assert "projects removed upstream: speedup" in run.stdout
    wait_for(lambda: page_files(server, "speedup") is None, "speedup to be gone")
    wait_for(lambda: (page_files(server, "left") or {}).get(left) == "broken", "the yank")


def count_files(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "stilton.sqlite3", timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM files").fetchone()[0])


def test_a_killed_sync_resumes_without_fetching_what_it_verified(
    server: StiltonServer, upstream: FakeUpstream
) -> None:
    add_mirror(server, upstream, "--concurrency", "1")
    upstream.slow_seconds = 0.3
    upstream.set_fault(Fault.SLOW)
    environ = {**os.environ, "STILTON_DATA_DIR": str(server.data_dir)}
    process = subprocess.Popen(
        [*stilton_command(), "mirror", "run", "m"],
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: count_files(server.data_dir) >= 3, "a few files to be stored")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    stored = _stored_names(server.data_dir)
    assert 3 <= len(stored) < len(graph.EXPECTED)
    assert "interrupted" in server.cli("mirror", "status", "m").stdout
    upstream.clear_faults()
    upstream.clear_requests()

    run = server.cli("mirror", "run", "m")

    assert "Mirror 'm': ok." in run.stdout
    fetched = {
        r.path.removeprefix("/files/") for r in upstream.requests if r.path.startswith("/files/")
    }
    assert not stored & fetched, "files verified before the kill were fetched again"
    assert _stored_names(server.data_dir) == graph.EXPECTED
    assert list((server.data_dir / "blobs" / "tmp").glob("*.part")) == []


def _stored_names(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "stilton.sqlite3", timeout=30) as connection:
        return {row[0] for row in connection.execute("SELECT filename FROM files")}


def test_a_mirror_with_every_syncs_inside_the_server(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    server = StiltonServer(tmp_path / "scheduled")
    server.data_dir.mkdir(parents=True)
    add_mirror(server, upstream, "--every", "1h")
    with server:
        wait_for(lambda: page_files(server, "app") is not None, "the scheduled sync")
        wait_for(lambda: "ok" in server.cli("mirror", "status", "m").stdout, "its status")
    assert "mirror m: ok" in server.read_log()
