"""Hostile uploads through the real app: metadata installers cannot read, contradictory form
fields, clients that disconnect or stop sending. Each is refused with a message a person can act
on, stores nothing, leaves no spool file, and the server answers the next request."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, sdist_bytes, wheel_bytes
from tests.support.uploads import multipart_body, upload_fields

DIST = Dist("acme-widgets", "1.0")
METADATA = DIST.metadata()


@dataclass(frozen=True)
class MetadataDist(Dist):
    """A distribution whose METADATA / PKG-INFO is exactly ``raw`` (however broken)."""

    raw: bytes = b""

    def metadata(self, metadata_version: str = "2.3") -> bytes:
        return self.raw


def broken(raw: bytes) -> MetadataDist:
    return MetadataDist("acme-widgets", "1.0", raw=raw)


def post(
    client: TestClient, auth: dict[str, str], filename: str, data: bytes, fields: Any
) -> httpx.Response:
    files = {"content": (filename, data, "application/octet-stream")}
    response: httpx.Response = client.post("/local/", data=fields, files=files, headers=auth)
    return response


def assert_refused_and_nothing_kept(
    response: httpx.Response, status: int, message: str, client: TestClient, runtime: Runtime
) -> None:
    assert response.status_code == status, response.text
    assert message in response.text
    assert client.get("/local/simple/acme-widgets/").status_code == 404
    blobs = runtime.settings.blob_dir
    assert [p for p in blobs.rglob("*") if p.is_file()] == []  # no blob, no spool file
    assert client.get("/-/health").status_code == 200


LATIN1_SUMMARY = METADATA.replace(b"Summary: A tiny", b"Summary: \xe9 tiny")
CASES = [
    ("latin-1 summary", LATIN1_SUMMARY, "not UTF-8 (byte 0xe9 on line 4"),
    ("latin-1 body", METADATA + b"\n\xff\xfe\n", "not UTF-8"),
    ("metadata version garbage", METADATA.replace(b"2.3", b"garbage"), "'garbage' is not one of"),
    ("metadata version 99.0", METADATA.replace(b"2.3", b"99.0"), "'99.0' is not one of"),
    ("two summaries", METADATA + b"Summary: another\n", "'summary' has invalid data"),
]


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wheel_with_unreadable_metadata_is_refused(
    client: TestClient, runtime: Runtime, auth: dict[str, str], raw: bytes, message: str
) -> None:
    data = wheel_bytes(broken(raw))
    response = post(client, auth, DIST.wheel_filename, data, upload_fields(DIST, data))
    assert_refused_and_nothing_kept(response, 400, message, client, runtime)


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_sdist_with_unreadable_pkg_info_is_refused(
    client: TestClient, runtime: Runtime, auth: dict[str, str], raw: bytes, message: str
) -> None:
    data = sdist_bytes(broken(raw))
    fields = upload_fields(DIST, data, sdist=True)
    response = post(client, auth, DIST.sdist_filename, data, fields)
    assert_refused_and_nothing_kept(response, 400, message, client, runtime)


def test_utf8_metadata_with_accents_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    data = wheel_bytes(broken(METADATA.replace(b"A tiny", "Un fromage affiné".encode())))
    response = post(client, auth, DIST.wheel_filename, data, upload_fields(DIST, data))
    assert response.status_code == 200, response.text
    info = client.get("/local/pypi/acme-widgets/json").json()["info"]
    assert info["summary"] == "Un fromage affiné package built by the tests."


@pytest.mark.parametrize("version", ["garbage", "99.0", "3.0"])
def test_the_form_metadata_version_must_be_known(
    client: TestClient, runtime: Runtime, auth: dict[str, str], version: str
) -> None:
    data = wheel_bytes(DIST)
    fields = upload_fields(DIST, data, metadata_version=version)
    response = post(client, auth, DIST.wheel_filename, data, fields)
    message = f"'{version}' is an invalid value for Metadata-Version"
    assert_refused_and_nothing_kept(response, 400, message, client, runtime)


def _twice(value: str, other: str) -> list[str]:
    return [value, other]


DUPLICATES = [
    ("name", lambda f: _twice(f["name"], "acme-gadgets")),
    ("version", lambda f: _twice(f["version"], "2.0")),
    ("sha256_digest", lambda f: _twice(f["sha256_digest"], "0" * 64)),
    ("blake2_256_digest", lambda f: _twice("0" * 64, f["blake2_256_digest"])),
    ("filetype", lambda f: _twice("bdist_wheel", "sdist")),
]


@pytest.mark.parametrize(("field", "duplicate"), DUPLICATES, ids=[d[0] for d in DUPLICATES])
def test_contradictory_duplicate_fields_are_refused(
    client: TestClient, runtime: Runtime, auth: dict[str, str], field: str, duplicate: Any
) -> None:
    data = wheel_bytes(DIST)
    fields = upload_fields(DIST, data)
    fields[field] = duplicate(fields)
    response = post(client, auth, DIST.wheel_filename, data, fields)
    message = f"Form field '{field}' was sent 2 times with different values"
    assert_refused_and_nothing_kept(response, 400, message, client, runtime)


def test_identical_duplicates_and_multi_valued_fields_are_accepted(
    client: TestClient, auth: dict[str, str]
) -> None:
    data = wheel_bytes(DIST)
    fields = upload_fields(DIST, data, classifiers=["Topic :: Games", "Framework :: Flask"])
    fields["name"] = [DIST.name, DIST.name]
    fields["sha256_digest"] = [fields["sha256_digest"]] * 2
    response = post(client, auth, DIST.wheel_filename, data, fields)
    assert response.status_code == 200, response.text
    assert client.get("/local/simple/acme-widgets/").status_code == 200


# -- a body that does not arrive whole -----------------------------------------------------

WHEEL = wheel_bytes(Dist("acme-widgets", "1.0", padding=256 * 1024))


async def send_half_then(app: Any, auth: dict[str, str], ending: str) -> list[Message]:
    """Drive the app as a server would: half the body, then ``ending`` ("disconnect" or
    "silence"); returns what the app sent."""
    body, boundary = multipart_body(upload_fields(DIST, WHEEL), DIST.wheel_filename, WHEEL)
    chunks = [body[i : i + 65536] for i in range(0, len(body) // 2, 65536)]
    headers = [
        (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", auth["Authorization"].encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/local/",
        "raw_path": b"/local/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3150),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
        if ending == "disconnect":
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.fixture
def impatient(settings: Settings) -> Iterator[TestClient]:
    """The app with an idle timeout of one second for request bodies."""
    app = create_app(dataclasses.replace(settings, upload_idle_timeout=1.0))
    with TestClient(app) as test_client:
        yield test_client


def _portal_run(client: TestClient, auth: dict[str, str], ending: str) -> list[Message]:
    assert client.portal is not None
    return client.portal.call(send_half_then, client.app, auth, ending)


def assert_quiet(caplog: pytest.LogCaptureFixture, message: str) -> None:
    records = [r for r in caplog.records if r.name.startswith("stilton")]
    assert any(message in r.getMessage() and r.levelno == logging.WARNING for r in records)
    assert [r for r in records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_a_client_that_disconnects_mid_upload_ends_quietly(
    client: TestClient, runtime: Runtime, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sent = _portal_run(client, auth, "disconnect")
    assert sent[0]["status"] == 400  # nobody reads it; what matters is below
    assert_quiet(caplog, "The client disconnected after sending")
    assert client.get("/local/simple/acme-widgets/").status_code == 404
    assert [p for p in runtime.settings.blob_dir.rglob("*") if p.is_file()] == []
    assert client.get("/-/health").status_code == 200


def test_a_body_shorter_than_its_content_length_times_out_with_408(
    impatient: TestClient, runtime: Runtime, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sent = _portal_run(impatient, auth, "silence")
    start, body = sent[0], sent[1]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert body["body"].decode().startswith("Request timeout: the request body stopped arriving")
    assert b"nothing was stored" in body["body"]
    assert_quiet(caplog, "Request timeout")
    assert impatient.get("/local/simple/acme-widgets/").status_code == 404
    assert [p for p in runtime.settings.blob_dir.rglob("*") if p.is_file()] == []
    assert impatient.get("/-/health").status_code == 200


def test_a_whole_body_is_not_affected_by_the_idle_timeout(
    impatient: TestClient, auth: dict[str, str]
) -> None:
    response = post(impatient, auth, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL))
    assert response.status_code == 200, response.text
    sha256 = hashlib.sha256(WHEEL).hexdigest()
    assert impatient.get(f"/local/files/{sha256}/{DIST.wheel_filename}").content == WHEEL


def test_an_sdist_without_pkg_info_still_falls_back_to_the_form(
    client: TestClient, auth: dict[str, str]
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("acme_widgets-1.0/setup.py"), io.BytesIO(b""))
    data = buffer.getvalue()
    fields = upload_fields(DIST, data, sdist=True, metadata_version="2.0")
    response = post(client, auth, DIST.sdist_filename, data, fields)
    assert response.status_code == 200, response.text
