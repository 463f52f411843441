"""``stilton gc`` after a real crash: a server killed (SIGKILL, by its process id) between
storing an upload's blobs and committing its row, with another upload half-sent. The dry run
lists the orphan blobs and the spool file and removes nothing; orphans within the grace period
are kept; ``--delete`` on the running server removes the orphans and nothing a row names."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, multipart_body, post_wheel, upload_fields
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

KEPT = Dist("gc-kept", "1.0", padding=2**20)
CRASHED = Dist("gc-crashed", "1.0", padding=8 * 2**20)
HALF = Dist("gc-half", "1.0", padding=8 * 2**20)
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def blob_files(server: StiltonServer) -> set[str]:
    return {p.name for p in (server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()}


def spool_files(server: StiltonServer) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").glob("*.part"))


def raw_upload(server: StiltonServer, token: str, dist: Dist) -> tuple[socket.socket, bytes]:
    """An upload's connection with its head sent, and the body still to send."""
    data = wheel_bytes(dist)
    body, boundary = multipart_body(upload_fields(dist, data), dist.wheel_filename, data)
    head = (
        f"POST /local/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Authorization: {basic_auth('__token__', token)['Authorization']}\r\n\r\n"
    ).encode()
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.sendall(head)
    return connection, body


def crash_mid_upload(server: StiltonServer, token: str) -> None:
    """Blobs of CRASHED stored, its row waiting for the database (a test holds SQLite's write
    lock), HALF half-sent; then the server and its workers are killed."""
    half, half_body = raw_upload(server, token, HALF)
    crashed, crashed_body = raw_upload(server, token, CRASHED)
    lock = sqlite3.connect(server.data_dir / "stilton.sqlite3", isolation_level=None)
    try:
        half.sendall(half_body[: len(half_body) // 2])
        crashed.sendall(crashed_body[:-1000])
        wait_for(lambda: len(spool_files(server)) == 2, "both uploads to spool")
        lock.execute("BEGIN IMMEDIATE")  # the row's commit will wait for this
        before = blob_files(server)
        crashed.sendall(crashed_body[-1000:])
        wait_for(lambda: len(blob_files(server) - before) == 2, "the wheel and its metadata")
        assert server.pid is not None
        server.kill()  # SIGKILL to the process group led by the server's pid
    finally:
        lock.close()
        half.close()
        crashed.close()


def test_gc_removes_what_a_crash_left_and_nothing_else(tmp_path: Path) -> None:
    crashed_sha256 = hashlib.sha256(wheel_bytes(CRASHED)).hexdigest()
    with (
        StiltonServer(tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        token = server.create_token()
        post_wheel(client, token, KEPT)
        kept = blob_files(server)
        crash_mid_upload(server, token)
        orphans = blob_files(server) - kept
        assert crashed_sha256 in orphans and len(orphans) == 2
        assert len(spool_files(server)) == 1  # HALF's

        dry = server.cli("gc", "--grace", "0", check=False)
        assert dry.returncode == 3, dry.stdout + dry.stderr
        assert f"orphan: {crashed_sha256}" in dry.stdout
        assert "spool file: " in dry.stdout and "--delete" in dry.stderr
        assert blob_files(server) == kept | orphans and len(spool_files(server)) == 1

        server.start()
        assert spool_files(server) == []  # removed at start-up, as before
        within_grace = server.cli("gc", "--delete")  # the default grace keeps fresh orphans
        assert "Nothing to remove" in within_grace.stdout
        assert blob_files(server) == kept | orphans

        collected = server.cli("gc", "--grace", "0", "--delete")
        assert "Removed 2 orphan blob(s)" in collected.stdout, collected.stdout
        assert blob_files(server) == kept
        assert server.cli("gc", "--grace", "0").returncode == 0
        assert "0 problem(s), 0 unreferenced blob(s)" in server.cli("verify").stdout

        (file,) = client.get("/local/simple/gc-kept/", headers=JSON).json()["files"]
        served = client.get(file["url"], timeout=60).content
        assert hashlib.sha256(served).hexdigest() == file["hashes"]["sha256"]
        assert client.get("/local/simple/gc-crashed/").status_code == 404
        post_wheel(client, token, CRASHED)  # the crashed upload, sent again, is stored whole
        assert crashed_sha256 in blob_files(server)
