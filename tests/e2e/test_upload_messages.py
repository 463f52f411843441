"""What each real uploader, run the way its users run it (no verbose flag), shows when Stilton
refuses an upload: a file that already exists, a wrong token, a version the file contradicts.

Stilton's message is in the response body. PyPI also puts it in the status line's reason phrase,
and some clients print nothing else: Granian writes the canonical phrase (``400 Bad Request``)
whatever the app says, as ASGI has no field for a reason phrase. So for those clients the
tests below assert what they do show -- the status line, and where there is one, the client's
own pointer to the body -- and that the message is not there. uv, poetry and flit (for a 400)
print the body. Plus: nothing a request sends reaches the response head.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Completed, Upload, Workspace
from tests.support.dists import Dist, wheel_bytes, write_wheel
from tests.support.plain_uploads import PLAIN_UPLOADERS, PlainUploader, pdm_debug_log
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, multipart_body, post_wheel, upload_fields

pytestmark = pytest.mark.e2e

WRONG_TOKEN = "not-a-stilton-token"


@dataclass(frozen=True, slots=True)
class Refusal:
    name: str
    status: int
    phrase: str  # the canonical reason phrase Granian sends
    reason: str  # the start of Stilton's message


CONFLICT = Refusal("conflict", 400, "Bad Request", "File already exists")
BAD_TOKEN = Refusal(
    "bad-token", 403, "Forbidden", "Invalid or non-existent authentication information"
)
BAD_VERSION = Refusal("bad-version", 400, "Bad Request", "Invalid distribution file")


class Shown(StrEnum):
    """What a client prints of a refusal."""

    REASON = "Stilton's message"
    STATUS_LINE = "the status line only"
    STATUS_LINE_AND_HINT = "the status line, and that --verbose would show more"
    STATUS_LINE_AND_LOG = "the status line, and the path of a log holding the message"
    SKIPPED = "that the file already exists, having looked at the index page first"


SHOWN: dict[tuple[str, str], Shown] = {
    # twine prints the body only with --verbose, and says so.
    ("twine", CONFLICT.name): Shown.STATUS_LINE_AND_HINT,
    ("twine", BAD_TOKEN.name): Shown.STATUS_LINE_AND_HINT,
    ("twine", BAD_VERSION.name): Shown.STATUS_LINE_AND_HINT,
    ("uv", CONFLICT.name): Shown.REASON,
    ("uv", BAD_TOKEN.name): Shown.REASON,
    ("uv", BAD_VERSION.name): Shown.REASON,
    ("poetry", CONFLICT.name): Shown.REASON,
    ("poetry", BAD_TOKEN.name): Shown.REASON,
    ("poetry", BAD_VERSION.name): Shown.REASON,
    # pdm logs the body at debug level: on the terminal with -v, always in its log file.
    ("pdm", CONFLICT.name): Shown.STATUS_LINE_AND_LOG,
    ("pdm", BAD_TOKEN.name): Shown.STATUS_LINE_AND_LOG,
    ("pdm", BAD_VERSION.name): Shown.STATUS_LINE_AND_LOG,
    # hatch never prints a body; it skips files its index page already lists.
    ("hatch", CONFLICT.name): Shown.SKIPPED,
    ("hatch", BAD_TOKEN.name): Shown.STATUS_LINE,
    ("hatch", BAD_VERSION.name): Shown.STATUS_LINE,
    # flit prints the body of a 400 only; a 403 ends in a traceback of the status line. It
    # builds and checks its own metadata, so a version the file contradicts never reaches us.
    ("flit", CONFLICT.name): Shown.REASON,
    ("flit", BAD_TOKEN.name): Shown.STATUS_LINE,
}


def contradicted_wheel(dist: Dist, directory: Path) -> Path:
    """A wheel named for ``dist`` whose metadata says version ``<dist.version>.1``."""
    other = write_wheel(replace(dist, version=f"{dist.version}.1"), directory / "other")
    return other.rename(directory / dist.wheel_filename)


def refused_upload(
    uploader: PlainUploader,
    refusal: Refusal,
    workspace: Workspace,
    server: StiltonServer,
    upload: Upload,
) -> Completed:
    dist = Dist(f"e2e-said-{uploader.name}-{refusal.name}", "1.0.0")
    directory = workspace.directory("dist")
    if refusal is CONFLICT:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as client:
            post_wheel(client, upload.token, dist)
        dist = replace(dist, module_body='__version__ = "other bytes"\n')
        files = [write_wheel(dist, directory)]
    elif refusal is BAD_TOKEN:
        files = [write_wheel(dist, directory)]
        upload = Upload(upload.url, WRONG_TOKEN)
    else:
        files = [contradicted_wheel(dist, directory)]
    return uploader.upload(workspace, dist, files, upload)


def assert_status_line_only(completed: Completed, refusal: Refusal) -> None:
    output = completed.output
    assert completed.returncode != 0, output
    assert re.search(rf"\b{refusal.status}\b.*\b{refusal.phrase}\b", output), output
    assert refusal.reason not in output, output


CASES = [
    pytest.param(uploader, refusal, id=f"{uploader.name}-{refusal.name}")
    for uploader in PLAIN_UPLOADERS
    for refusal in (CONFLICT, BAD_TOKEN, BAD_VERSION)
    if (uploader.name, refusal.name) in SHOWN
]


@pytest.mark.parametrize(("uploader", "refusal"), CASES)
def test_what_a_client_shows_of_a_refusal(
    uploader: PlainUploader,
    refusal: Refusal,
    workspace: Workspace,
    stilton_server: StiltonServer,
    upload: Upload,
) -> None:
    completed = refused_upload(uploader, refusal, workspace, stilton_server, upload)

    shown = SHOWN[uploader.name, refusal.name]
    if shown is Shown.REASON:
        assert completed.returncode != 0, completed.output
        assert refusal.reason in completed.output, completed.output
    elif shown is Shown.SKIPPED:
        assert completed.returncode == 0, completed.output
        assert "already exists" in completed.output, completed.output
    else:
        assert_status_line_only(completed, refusal)
    if shown is Shown.STATUS_LINE_AND_HINT:
        assert "Retry with the --verbose option" in completed.output, completed.output
    if shown is Shown.STATUS_LINE_AND_LOG:
        assert refusal.reason in pdm_debug_log(completed), completed.output


# --- hostile requests ----------------------------------------------------------------------


def raw_exchange(server: StiltonServer, request: bytes) -> tuple[list[bytes], bytes]:
    """Send ``request`` as is; the response's head lines and its body."""
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def hostile_upload(server: StiltonServer, token: str, filename: bytes) -> bytes:
    """An upload whose file part is named ``filename``, bytes as given."""
    dist = Dist("e2e-hostile-name", "1.0.0")
    data = wheel_bytes(dist)
    body, boundary = multipart_body(upload_fields(dist, data), "FILENAME", data)
    body = body.replace(b'filename="FILENAME"', b'filename="' + filename + b'"')
    return (
        f"POST /local/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Authorization: {basic_auth('__token__', token)['Authorization']}\r\n\r\n"
    ).encode() + body


HOSTILE_FILENAMES = {
    "cr-lf": b"e2e_hostile_name-1.0.0-py3-none-any\r\nX-Injected: yes\r\n.whl",
    "lone-lf": b"e2e_hostile_name-1.0.0-py3-none-any\nX-Injected: yes.whl",
    "unicode": "e2e_hostile_name-1.0.0-py3-none-any\u2028X-Injected: yes\u00e9.whl".encode(),
    "escape": b"e2e_hostile_name-1.0.0-py3-none-any\x1b[2J.whl",
}


@pytest.mark.parametrize("filename", HOSTILE_FILENAMES.values(), ids=HOSTILE_FILENAMES.keys())
def test_a_hostile_filename_reaches_neither_the_head_nor_a_second_line(
    filename: bytes, stilton_server: StiltonServer, token: str
) -> None:
    head, body = raw_exchange(stilton_server, hostile_upload(stilton_server, token, filename))

    status_line, *header_lines = head
    assert re.fullmatch(rb"HTTP/1\.1 4\d\d [A-Za-z ]+", status_line), head
    names = [line.partition(b":")[0].strip().lower() for line in header_lines]
    assert b"x-injected" not in names, head
    message = body.decode("utf-8").removesuffix("\n")
    assert message, head
    assert message.isprintable(), message


def test_a_hostile_path_reaches_neither_the_head_nor_a_second_line(
    stilton_server: StiltonServer,
) -> None:
    request = (
        b"POST /local%0D%0AX-Injected:%20yes%E2%80%A8/ HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    head, body = raw_exchange(stilton_server, request)

    status_line, *header_lines = head
    assert re.fullmatch(rb"HTTP/1\.1 4\d\d [A-Za-z ]+", status_line), head
    assert b"x-injected" not in [line.partition(b":")[0].lower() for line in header_lines], head
    assert body.decode("utf-8").removesuffix("\n").isprintable(), body
