"""A server killed (SIGKILL) in the middle of a large upload comes back consistent, without
the half-written spool file, and the same file can then be uploaded in full."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, multipart_body, upload_fields

pytestmark = pytest.mark.e2e

BIG = Dist("crash-demo", "1.0", padding=20 * 2**20)


def spool_files(server: StiltonServer) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").glob("*.part"))


def blob_files(server: StiltonServer) -> list[Path]:
    return [p for p in (server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()]


def test_kill_during_upload_leaves_a_consistent_index(tmp_path: Path) -> None:
    data = wheel_bytes(BIG)
    body, boundary = multipart_body(upload_fields(BIG, data), BIG.wheel_filename, data)
    with StiltonServer(tmp_path) as server:
        token = server.create_token()
        head = (
            f"POST /local/ HTTP/1.1\r\nHost: {server.url.removeprefix('http://')}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Authorization: {basic_auth('__token__', token)['Authorization']}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(head + body[: len(body) // 2])
            deadline = time.monotonic() + 20
            while not spool_files(server) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert spool_files(server), "the server should be spooling the upload"
            server.kill()
        server.start()

        with httpx.Client(base_url=server.url, trust_env=False) as client:
            assert client.get("/local/simple/crash-demo/").status_code == 404
            assert "crash-demo" not in client.get("/local/simple/").text
            assert blob_files(server) == []
            assert spool_files(server) == []  # the crash's leftover, removed at start
            response = client.post(
                "/local/",
                data=upload_fields(BIG, data),
                files={"content": (BIG.wheel_filename, data, "application/octet-stream")},
                headers=basic_auth("__token__", token),
                timeout=60,
            )
            assert response.status_code == 200, response.text
            page = client.get(
                "/local/simple/crash-demo/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            ).json()
            (file,) = page["files"]
            assert file["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
            served = client.get(file["url"], timeout=60)
            assert hashlib.sha256(served.content).hexdigest() == file["hashes"]["sha256"]
