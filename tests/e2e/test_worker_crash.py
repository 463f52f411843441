"""Processes of a server that die. A worker process that dies (the OOM killer, a crash: here
SIGKILL) in the middle of cold requests is replaced, and the server goes on: the other worker
keeps answering, the requests the dead one held are answered when the clients try again (its
leases died with it), and a real install through the default group succeeds afterwards. Workers
whose supervising process is killed stop by themselves, rather than serve on unsupervised; and
a stopping server ends, after ``shutdown_timeout``, a download a stalled client holds open."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.clients import UvPip, Workspace, write_dists
from tests.support.connections import connections_by_process, process_tree
from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.upstream import FakeUpstream, Fault

pytestmark = pytest.mark.e2e

LIBRARIES = [Dist(f"crash-lib{n}", "1.0", padding=200_000) for n in range(8)]
APP = Dist("crash-app", "1.0", requires_dist=tuple(d.name for d in LIBRARIES))
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
SLOW = 3.0  # seconds the upstream waits before each answer: the window the kill falls in
ATTEMPTS = 5  # what a client does with a connection that broke: try again, a few times
DEADLINE = 30.0  # seconds for the replacement to start (Granian waits before a respawn)


def fetch_page(url: str) -> tuple[int, list[str]]:
    """A page as a careful client gets it: a new connection per try, again after a broken
    connection or a 5xx. Returns the tries it took and the filenames listed."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with httpx.Client(trust_env=False, timeout=60.0) as client:
                response = client.get(url, headers=JSON)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code < 500:
            assert response.status_code == 200, response.text
            return attempt, [entry["filename"] for entry in response.json()["files"]]
        time.sleep(0.2)
    raise AssertionError(f"{url} failed {ATTEMPTS} times")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers_of(server: StiltonServer) -> set[int]:
    assert server.pid is not None
    return set(process_tree(server.pid)) - {server.pid}


def test_a_killed_worker_is_replaced_while_the_other_serves(
    tmp_path: Path, workspace: Workspace
) -> None:
    with FakeUpstream(slow_seconds=SLOW) as upstream:
        for dist in [APP, *LIBRARIES]:
            upstream.add(dist, sdist=False)
        upstream.set_fault(Fault.SLOW)
        with StiltonServer(
            tmp_path / "stilton", workers=2, default_upstream=upstream.simple_url
        ) as server:
            first = workers_of(server)
            assert len(first) == 2
            dists = [APP, *LIBRARIES]
            with ThreadPoolExecutor(len(dists)) as pool:
                pages = [pool.submit(fetch_page, server.simple_url + d.name + "/") for d in dists]
                # Kill a worker that holds some of these requests, while they wait upstream.
                deadline = time.monotonic() + SLOW
                while not (holding := connections_by_process(server.pid or 0, server.port)):
                    assert time.monotonic() < deadline, "no worker took the requests"
                    time.sleep(0.02)
                victim = max(holding, key=lambda pid: holding[pid])
                assert victim in first
                os.kill(victim, signal.SIGKILL)
                answers = [page.result() for page in pages]

            # Every page was answered, whole; those the dead worker held after a retry.
            for dist, (_, filenames) in zip(dists, answers, strict=True):
                assert filenames == [dist.wheel_filename]
            assert max(attempts for attempts, _ in answers) > 1

            # The dead worker is replaced by a new process; the server never stopped.
            deadline = time.monotonic() + DEADLINE
            while len(now := workers_of(server)) != 2 or victim in now:
                assert time.monotonic() < deadline, f"workers {now} after killing {victim}"
                time.sleep(0.2)
            assert len(now - first) == 1
            assert "Unexpected exit" in server.read_log()

            # Both workers answer, and a real install through the default group succeeds.
            upstream.clear_faults()
            with httpx.Client(
                trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
            ) as client:
                for _ in range(12):
                    assert client.get(server.url + "/-/ready").status_code == 200
            python = UvPip().install(workspace, server.simple_url, APP.name)
            assert workspace.imported_version(python, "crash_app") == "1.0"


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    server = StiltonServer(tmp_path / "stilton", workers=2)
    server.start()
    try:
        workers = workers_of(server)
        assert len(workers) == 2
        os.kill(server.pid or 0, signal.SIGKILL)
        deadline = time.monotonic() + DEADLINE
        while running := {pid for pid in workers if alive(pid)}:
            assert time.monotonic() < deadline, f"workers {running} outlived their supervisor"
            time.sleep(0.1)
        with pytest.raises(httpx.TransportError):  # nothing serves on the port any more
            httpx.get(server.url + "/-/ready", timeout=2.0)
        assert server.read_log().count("the supervising process") == 2
    finally:
        server.stop()


def test_a_stopping_server_does_not_wait_for_a_stalled_download_forever(tmp_path: Path) -> None:
    big = Dist("crash-big", "1.0", padding=30_000_000)
    server = StiltonServer(tmp_path / "stilton", workers=2, settings={"shutdown_timeout": "2"})
    server.start()
    try:
        write_dists(big, tmp_path / "dists")
        server.cli("import", str(tmp_path / "dists"))
        with httpx.Client(trust_env=False) as client:
            page = client.get(server.index_url() + big.name + "/", headers=JSON).json()
        url = next(f["url"] for f in page["files"] if f["filename"] == big.wheel_filename)
        with socket.create_connection(("127.0.0.1", server.port)) as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert stalled.recv(1024).startswith(b"HTTP/1.1 200")  # and reads no more
            started = time.monotonic()
            assert server.terminate(DEADLINE), "the server still waits for the stalled download"
            assert time.monotonic() - started >= 1.5  # it was given its chance first
        assert "refused to gracefully stop" in server.read_log()
    finally:
        server.stop()
