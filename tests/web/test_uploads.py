"""The legacy upload API: every rejection answers the right status with a message a person can
act on, and stores nothing."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from tests.support.dists import Dist, sdist_bytes, wheel_bytes
from tests.support.uploads import basic_auth, upload_fields
from tests.web.conftest import Uploader

DIST = Dist("acme-widgets", "1.0", requires_python=">=3.9")


def post(
    client: TestClient,
    auth: dict[str, str],
    filename: str | None,
    data: bytes,
    fields: dict[str, Any],
    path: str = "/local/",
    **kwargs: Any,
) -> httpx.Response:
    # Without a filename the "content" part is a plain field: a form with no file in it.
    files = {"content": (filename, data, "application/octet-stream") if filename else (None, b"")}
    response: httpx.Response = client.post(path, data=fields, files=files, headers=auth, **kwargs)
    return response


def stored_blobs(runtime: Runtime) -> list[Path]:
    root = runtime.settings.blob_dir
    return [p for p in root.rglob("*") if p.is_file()]


def assert_nothing_stored(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/local/simple/acme-widgets/").status_code == 404
    assert stored_blobs(runtime) == []


WHEEL = wheel_bytes(DIST)
SHA = hashlib.sha256(WHEEL).hexdigest()


def _bad_metadata_wheel() -> bytes:
    broken = Dist("acme-widgets", "1.0", requires_dist=("not a valid requirement !!",))
    return wheel_bytes(broken)


def _wrong_name_wheel() -> bytes:
    return wheel_bytes(Dist("other-project", "1.0"))


REJECTIONS: list[tuple[str, str | None, bytes, dict[str, Any], int, str]] = [
    (
        "wrong sha256",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, sha256_digest="0" * 64, blake2_256_digest=None),
        400,
        "The digest supplied does not match",
    ),
    (
        "wrong md5",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, md5_digest="0" * 32),
        400,
        "does not match",
    ),
    (
        "no digest",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, sha256_digest=None, blake2_256_digest=None),
        400,
        "Include at least one message digest",
    ),
    (
        "name does not match filename",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(Dist("other-project", "1.0"), WHEEL),
        400,
        "Start filename for 'other-project'",
    ),
    (
        "version does not match filename",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(Dist("acme-widgets", "2.0"), WHEEL),
        400,
        "does not match the filename",
    ),
    (
        "invalid version",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, version="not-a-version!"),
        400,
        "is an invalid value for Version",
    ),
    (
        "metadata inside the wheel names another project",
        DIST.wheel_filename,
        _wrong_name_wheel(),
        upload_fields(DIST, _wrong_name_wheel()),
        400,
        "Invalid distribution file",
    ),
    (
        "bad metadata",
        DIST.wheel_filename,
        _bad_metadata_wheel(),
        upload_fields(DIST, _bad_metadata_wheel()),
        400,
        "Invalid metadata",
    ),
    (
        "bad requires-python",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, requires_python=">=>3"),
        400,
        "invalid value for Requires-Python",
    ),
    (
        "not a zip",
        DIST.wheel_filename,
        b"this is not a wheel",
        upload_fields(DIST, b"this is not a wheel"),
        400,
        "not a readable zip archive",
    ),
    ("no file", None, b"", upload_fields(DIST, WHEEL), 400, "Upload payload does not have a file"),
    (
        "path traversal",
        "../../etc/acme_widgets-1.0-py3-none-any.whl",
        WHEEL,
        upload_fields(DIST, WHEEL),
        400,
        "Invalid distribution file name",
    ),
    (
        "backslash path",
        "..\\acme_widgets-1.0-py3-none-any.whl",
        WHEEL,
        upload_fields(DIST, WHEEL),
        400,
        "Invalid distribution file name",
    ),
    (
        "not a distribution",
        "acme_widgets-1.0.exe",
        WHEEL,
        upload_fields(DIST, WHEEL),
        400,
        "Invalid distribution file name",
    ),
    (
        "filetype does not match",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, filetype="sdist"),
        400,
        "Filetype 'sdist' does not match",
    ),
    (
        "sdist with a python version",
        DIST.sdist_filename,
        sdist_bytes(DIST),
        upload_fields(DIST, sdist_bytes(DIST), sdist=True, pyversion="py3"),
        400,
        "Use 'source' as Python version for an sdist",
    ),
    (
        "unknown action",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, **cast(dict[str, Any], {":action": "frobnicate"})),
        400,
        "Unknown or missing :action",
    ),
    (
        "doc upload",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, **cast(dict[str, Any], {":action": "doc_upload"})),
        410,
        "not supported",
    ),
    (
        "protocol version",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, protocol_version="2"),
        400,
        "Unknown protocol version",
    ),
    (
        "missing name",
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL, name=None),
        400,
        "Missing required form field 'name'",
    ),
]


@pytest.mark.parametrize(
    ("filename", "data", "fields", "status", "message"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_rejections_store_nothing(
    client: TestClient,
    runtime: Runtime,
    auth: dict[str, str],
    filename: str | None,
    data: bytes,
    fields: dict[str, Any],
    status: int,
    message: str,
) -> None:
    response = post(client, auth, filename, data, fields)
    assert response.status_code == status, response.text
    assert message in response.text
    assert_nothing_stored(client, runtime)


def test_oversized_upload_is_refused_while_it_arrives(
    client: TestClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    big = Dist("acme-widgets", "1.0", padding=3 * 2**20)  # the limit in these tests is 2 MiB
    data = wheel_bytes(big)
    response = post(client, auth, big.wheel_filename, data, upload_fields(big, data))
    assert response.status_code == 400
    assert response.text.startswith("File too large.")
    assert_nothing_stored(client, runtime)
    assert list((runtime.settings.blob_dir / "tmp").iterdir()) == []


def test_uv_gets_json_errors(client: TestClient, auth: dict[str, str]) -> None:
    fields = upload_fields(DIST, WHEEL, sha256_digest="0" * 64, blake2_256_digest=None)
    accept = {"Accept": "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"}
    response = post(client, {**auth, **accept}, DIST.wheel_filename, WHEEL, fields)
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("The digest supplied does not match")
    assert body["code"].startswith("400 ")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Invalid or non-existent authentication information"),
        (
            basic_auth("__token__", "stl_wrong"),
            "Invalid or non-existent authentication information",
        ),
        (basic_auth("alice", "secret-password"), "Invalid or non-existent authentication"),
        ({"Authorization": "Bearer abc"}, "Invalid or non-existent authentication information"),
        ({"Authorization": "Basic !!!"}, "Invalid or non-existent authentication information"),
    ],
)
def test_upload_without_valid_token_is_403(
    client: TestClient, runtime: Runtime, headers: dict[str, str], message: str
) -> None:
    response = post(client, headers, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL))
    assert response.status_code == 403
    assert message in response.text
    assert_nothing_stored(client, runtime)


def test_revoked_token_is_refused(client: TestClient, runtime: Runtime) -> None:
    token_id, token = runtime.auth.create_token(None)
    runtime.auth.revoke_token(token_id)
    response = post(
        client,
        basic_auth("__token__", token),
        DIST.wheel_filename,
        WHEEL,
        upload_fields(DIST, WHEEL),
    )
    assert response.status_code == 403


def test_token_scoped_to_another_index(client: TestClient, runtime: Runtime) -> None:
    runtime.create_index("team", __import__("stilton.core.model").core.model.IndexKind.HOSTED)
    _, token = runtime.auth.create_token(runtime.get_index_record("team").name)
    auth = basic_auth("__token__", token)
    refused = post(client, auth, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL))
    assert refused.status_code == 403
    assert "isn't allowed to upload to index 'local'" in refused.text
    accepted = post(
        client, auth, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL), path="/team/"
    )
    assert accepted.status_code == 200


def test_upload_to_unknown_index_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = post(
        client, auth, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL), path="/nope/"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/local/", "/local", "/local/legacy/", "/local/legacy"])
def test_upload_urls(client: TestClient, auth: dict[str, str], path: str) -> None:
    response = post(client, auth, DIST.wheel_filename, WHEEL, upload_fields(DIST, WHEEL), path=path)
    assert response.status_code == 200


def test_identical_reupload_is_200_and_other_bytes_are_refused(
    client: TestClient, uploader: Uploader, auth: dict[str, str]
) -> None:
    assert uploader.wheel(DIST).status_code == 200
    assert uploader.wheel(DIST).status_code == 200
    other = wheel_bytes(Dist("acme-widgets", "1.0", module_body="x = 1\n"))
    response = post(client, auth, DIST.wheel_filename, other, upload_fields(DIST, other))
    assert response.status_code == 400
    assert response.text.startswith("File already exists")
    served = client.get(f"/local/files/{SHA}/{DIST.wheel_filename}")
    assert served.content == WHEEL


def test_deleted_filename_can_never_be_reused(
    client: TestClient, uploader: Uploader, runtime: Runtime
) -> None:
    assert uploader.wheel(DIST).status_code == 200
    runtime.hosted("local").delete("acme-widgets", None, DIST.wheel_filename)
    assert client.get(f"/local/files/{SHA}/{DIST.wheel_filename}").status_code == 404
    response = uploader.wheel(DIST)
    assert response.status_code == 400
    assert response.text.startswith("File already exists")
    assert "deleted" in response.text


def test_second_sdist_of_a_release_is_refused(
    client: TestClient, uploader: Uploader, auth: dict[str, str]
) -> None:
    assert uploader.sdist(DIST).status_code == 200
    data = sdist_bytes(DIST)
    response = post(
        client, auth, "acme_widgets-1.0.zip", data, upload_fields(DIST, data, sdist=True)
    )
    assert response.status_code == 400


def test_flit_and_pdm_quirks_are_accepted(client: TestClient, auth: dict[str, str]) -> None:
    fields = upload_fields(
        DIST,
        WHEEL,
        md5_digest=hashlib.md5(WHEEL).hexdigest(),
        blake2_256_digest=None,
        provides_extras=["cli"],  # pdm's plural
        requires_python="",  # uv always sends it, empty when unset
        gpg_signature=None,
        attestations="[]",
        unknown_field="ignored",
    )
    files = {"content": (DIST.wheel_filename, WHEEL)}  # flit sends no part Content-Type
    response = client.post("/local/", data=fields, files=files, headers=auth)
    assert response.status_code == 200, response.text


def test_sdist_without_pkg_info_falls_back_to_the_form(
    client: TestClient, auth: dict[str, str]
) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("acme_widgets-1.0/setup.py")
        member.size = 0
        archive.addfile(member, io.BytesIO(b""))
    data = buffer.getvalue()
    response = post(
        client, auth, "acme_widgets-1.0.tar.gz", data, upload_fields(DIST, data, sdist=True)
    )
    assert response.status_code == 200, response.text
    page = client.get(
        "/simple/acme-widgets/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert page.json()["files"][0]["requires-python"] == ">=3.9"


def test_metadata_is_extracted_and_recorded(client: TestClient, uploader: Uploader) -> None:
    assert uploader.wheel(DIST).status_code == 200
    document = client.get(
        "/simple/acme-widgets/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    (file,) = document["files"]
    metadata = client.get(f"/local/files/{SHA}/{DIST.wheel_filename}.metadata")
    assert metadata.content == DIST.metadata()
    assert file["core-metadata"] == {"sha256": hashlib.sha256(DIST.metadata()).hexdigest()}
    assert file["size"] == len(WHEEL)
    assert file["upload-time"].endswith("Z")
    info = client.get("/local/pypi/acme-widgets/json").json()
    (url,) = info["urls"]
    assert url["digests"]["blake2b_256"] == hashlib.blake2b(WHEEL, digest_size=32).hexdigest()
    assert url["digests"]["sha256"] == SHA


@pytest.mark.parametrize("accept", ["*/*", "application/json"])
@pytest.mark.parametrize(
    "fields",
    [
        upload_fields(DIST, WHEEL, version="1.0\r\nX-Injected: yes"),
        upload_fields(DIST, WHEEL, requires_python=">=3.9\r\nX-Injected: yes"),
        upload_fields(DIST, WHEEL, requires_python=">=3.9,\x1b[2J<<4"),
    ],
    ids=["version", "requires-python", "terminal-escape"],
)
def test_a_refusal_that_quotes_the_request_stays_one_line(
    client: TestClient, auth: dict[str, str], fields: dict[str, Any], accept: str
) -> None:
    """Clients print the message to a terminal: what the request sent cannot forge a line."""
    response = post(client, {**auth, "Accept": accept}, DIST.wheel_filename, WHEEL, fields)

    assert response.status_code == 400
    assert "x-injected" not in response.headers
    message = response.json()["message"] if accept != "*/*" else response.text.removesuffix("\n")
    assert message.isprintable(), message
    assert "invalid value for" in message


def test_a_refusal_is_logged_on_one_line_for_the_operator(
    client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """hatch and twine show only the status line of a refusal: the server's log says why."""
    fields = upload_fields(DIST, WHEEL, version="1.0\r\nX-Injected: yes")
    with caplog.at_level(logging.INFO, logger="stilton.upload"):
        response = post(client, auth, DIST.wheel_filename, WHEEL, fields)

    assert response.status_code == 400
    (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert line.startswith("upload to local refused: ")
    assert "invalid value for" in line
    assert line.isprintable(), line
