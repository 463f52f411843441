"""Fuzzing the upload API through the app: random form fields (names, values, duplicates,
missing ones), random file names and bytes, and random multipart bodies (boundaries, part
headers, truncation, garbage). No input may make the server fail (5xx) or leave a spool file."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, sdist_bytes, wheel_bytes
from tests.support.uploads import basic_auth, multipart_body, upload_fields

DIST = Dist("acme-widgets", "1.0")
WHEEL = wheel_bytes(DIST)
FIELDS = upload_fields(DIST, WHEEL)
WHEEL_NAME = DIST.wheel_filename.encode()
# What the app may answer an upload: success, or a refusal that names a client's mistake.
EXPECTED = {200, 400, 403, 404, 410}
FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KNOWN_NAMES = [
    *FIELDS,
    "md5_digest",
    "comment",
    "keywords",
    "classifiers",
    "requires_dist",
    "project_urls",
    "provides_extras",
    "dynamic",
    "description",
    "license_file",
    "content",
]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
NAMES = st.sampled_from(KNOWN_NAMES) | TEXT
VALUES = st.sampled_from([*map(str, FIELDS.values()), "UNKNOWN", "", "2.0", "sdist"]) | TEXT
FILENAMES = (
    st.sampled_from(
        [DIST.wheel_filename, DIST.sdist_filename, "../acme_widgets-1.0.tar.gz", "x.whl"]
    )
    | TEXT
)
CONTENTS = st.sampled_from([WHEEL, sdist_bytes(DIST), b""]) | st.binary(max_size=300)


@pytest.fixture
def target(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    runtime = open_runtime(settings)
    try:
        auth = basic_auth("__token__", runtime.auth.create_token(None, "fuzz")[1])
    finally:
        runtime.close()
    with TestClient(create_app(settings)) as client:
        yield client, auth


@st.composite
def forms(draw: st.DrawFn) -> dict[str, object]:
    """A twine upload form with random fields added, replaced, repeated or dropped."""
    fields: dict[str, object] = dict(FIELDS)
    for name in draw(st.lists(NAMES, max_size=6)):
        change = draw(st.sampled_from(["set", "repeat", "drop"]))
        if change == "drop":
            fields.pop(name, None)
        elif change == "repeat":
            fields[name] = draw(st.lists(VALUES, min_size=2, max_size=3))
        else:
            fields[name] = draw(VALUES)
    return fields


PART_HEADERS = st.sampled_from(
    [
        b'Content-Disposition: form-data; name="name"',
        b'Content-Disposition: form-data; name="content"; filename="' + WHEEL_NAME + b'"',
        b'Content-Disposition: form-data; name="content"; filename=""',
        b'Content-Disposition: form-data; filename="x.whl"',
        b"Content-Disposition: form-data",
        b"Content-Disposition: attachment; name*=UTF-8''%e2%82%ac",
        b"Content-Type: application/octet-stream",
        b"X-Whatever: \xff\xfe",
        b"no colon here",
    ]
) | st.binary(max_size=60)
BOUNDARY = st.text(string.ascii_letters + string.digits + "'()+_,-./:=?", min_size=1, max_size=70)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A Content-Type and a body: parts with random headers and bytes, maybe cut or spoiled."""
    boundary = draw(BOUNDARY).encode()
    body = b""
    for _ in range(draw(st.integers(0, 5))):
        headers = b"\r\n".join(draw(st.lists(PART_HEADERS, max_size=3)))
        body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + draw(CONTENTS) + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    cut = draw(st.integers(0, len(body)))
    garbage = draw(st.binary(max_size=40))
    body = draw(st.sampled_from([body, body[:cut], body[:cut] + garbage + body[cut:]]))
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary.decode()}",
                f'multipart/form-data; boundary="{boundary.decode()}"',
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "text/plain",
            ]
        )
    )
    return content_type, body


def assert_survived(settings: Settings, status: int, text: str) -> None:
    assert status in EXPECTED, text
    assert list((settings.blob_dir / "tmp").glob("*.part")) == []


@FUZZ
@given(fields=forms(), filename=FILENAMES, data=CONTENTS)
def test_random_upload_forms_never_fail_the_server(
    target: tuple[TestClient, dict[str, str]],
    settings: Settings,
    fields: dict[str, object],
    filename: str,
    data: bytes,
) -> None:
    client, auth = target
    body, boundary = multipart_body(fields, filename, data)
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = client.post("/local/", content=body, headers=headers)
    assert_survived(settings, response.status_code, response.text)


@FUZZ
@given(request=multipart_bodies())
def test_random_multipart_bodies_never_fail_the_server(
    target: tuple[TestClient, dict[str, str]], settings: Settings, request: tuple[str, bytes]
) -> None:
    client, auth = target
    content_type, body = request
    response = client.post("/local/", content=body, headers={**auth, "Content-Type": content_type})
    assert_survived(settings, response.status_code, response.text)
