"""Uploads that do not arrive whole, against a real server (Granian): a client that disconnects
mid-body, and one that sends less than its Content-Length and then waits. Both end without a
traceback in the log, leave no spool file and store nothing; the server keeps answering."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, multipart_body, upload_fields

pytestmark = pytest.mark.e2e

DIST = Dist("fault-demo", "1.0", padding=2 * 2**20)
WAIT = 30.0  # seconds: an upper bound on how long the server may take to notice, not a target


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    with StiltonServer(
        tmp_path_factory.mktemp("faults"), settings={"upload_idle_timeout": "1"}
    ) as started:
        yield started


def half_an_upload(server: StiltonServer) -> bytes:
    """The request head and the first half of the body of an upload of ``DIST``."""
    data = wheel_bytes(DIST)
    body, boundary = multipart_body(upload_fields(DIST, data), DIST.wheel_filename, data)
    head = (
        f"POST /local/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Authorization: {basic_auth('__token__', server.create_token())['Authorization']}\r\n\r\n"
    )
    return head.encode() + body[: len(body) // 2]


def spool_files(server: StiltonServer) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").glob("*.part"))


def wait_for_log(server: StiltonServer, text: str) -> str:
    deadline = time.monotonic() + WAIT
    while text not in server.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    return server.read_log()


def assert_nothing_kept_and_serving(server: StiltonServer) -> None:
    assert spool_files(server) == []
    assert [p for p in (server.data_dir / "blobs").rglob("sha256/*/*/*") if p.is_file()] == []
    with httpx.Client(base_url=server.url, trust_env=False) as client:
        assert client.get("/local/simple/fault-demo/").status_code == 404
        assert client.get("/-/ready").status_code == 200


def test_a_client_that_disconnects_mid_upload_leaves_a_quiet_log(server: StiltonServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(half_an_upload(server))
        deadline = time.monotonic() + WAIT
        while not spool_files(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spool_files(server), "the server should be spooling the upload"

    log = wait_for_log(server, "The client disconnected after sending")
    assert "The client disconnected after sending" in log
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert_nothing_kept_and_serving(server)


def test_a_body_shorter_than_its_content_length_is_answered_408(server: StiltonServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(half_an_upload(server))
        connection.settimeout(WAIT)
        answer = b""
        while chunk := connection.recv(65536):  # the server closes the connection after it
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert body.decode().startswith("Request timeout: the request body stopped arriving")
    assert "nothing was stored" in body.decode()
    log = server.read_log()
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert_nothing_kept_and_serving(server)
