"""File and metadata URLs: HEAD, ranges, If-Range, ETags and immutable caching."""

from __future__ import annotations

import hashlib

import pytest
from starlette.testclient import TestClient

from tests.support.dists import Dist, wheel_bytes
from tests.web.conftest import Uploader

DIST = Dist("range-demo", "1.0", padding=300_000)
DATA = wheel_bytes(DIST)
SIZE = len(DATA)
SHA = hashlib.sha256(DATA).hexdigest()
URL = f"/local/files/{SHA}/{DIST.wheel_filename}"
ETAG = f'"{SHA}"'


@pytest.fixture(autouse=True)
def _published(uploader: Uploader) -> None:
    assert uploader.wheel(DIST).status_code == 200


def test_whole_file(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["etag"] == ETAG
    assert response.headers["accept-ranges"] == "bytes"
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in response.headers


def test_head(client: TestClient) -> None:
    response = client.head(URL)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == b""


RANGES = [
    ("bytes=0-9", 0, 9),
    ("bytes=10-", 10, SIZE - 1),
    ("bytes=-100", SIZE - 100, SIZE - 1),
    (f"bytes=-{SIZE + 50}", 0, SIZE - 1),  # a suffix longer than the file is the whole file
    (f"bytes={SIZE - 1}-{SIZE + 1000}", SIZE - 1, SIZE - 1),  # the end is clipped
    ("bytes=100-199", 100, 199),
]


@pytest.mark.parametrize(("header", "start", "end"), RANGES)
def test_ranges(client: TestClient, header: str, start: int, end: int) -> None:
    response = client.get(URL, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == DATA[start : end + 1]


def test_head_with_range(client: TestClient) -> None:
    response = client.head(URL, headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}"


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(client: TestClient, header: str) -> None:
    response = client.get(URL, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    "header", ["bytes=5-2", "items=0-5", "bytes=0-1,5-6", "bytes=abc", "bytes=-", "garbage"]
)
def test_unusable_range_headers_send_the_whole_file(client: TestClient, header: str) -> None:
    response = client.get(URL, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == DATA


def test_if_range_with_current_etag_resumes(client: TestClient) -> None:
    response = client.get(URL, headers={"Range": "bytes=1000-", "If-Range": ETAG})
    assert response.status_code == 206
    assert response.content == DATA[1000:]


@pytest.mark.parametrize("validator", ['"something-else"', "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_if_range_with_other_validator_restarts(client: TestClient, validator: str) -> None:
    response = client.get(URL, headers={"Range": "bytes=1000-", "If-Range": validator})
    assert response.status_code == 200
    assert response.content == DATA


@pytest.mark.parametrize("header", [ETAG, f"W/{ETAG}", f'"nope", {ETAG}', "*"])
def test_if_none_match_is_304(client: TestClient, header: str) -> None:
    response = client.get(URL, headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.headers["etag"] == ETAG


def test_metadata_file(client: TestClient) -> None:
    metadata = DIST.metadata()
    response = client.get(URL + ".metadata")
    assert response.status_code == 200
    assert response.content == metadata
    assert response.headers["etag"] == f'"{hashlib.sha256(metadata).hexdigest()}"'
    suffix = client.get(URL + ".metadata", headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206
    assert suffix.content == metadata[-5:]


@pytest.mark.parametrize(
    "url",
    [
        f"/local/files/{'0' * 64}/{DIST.wheel_filename}",
        f"/local/files/{SHA}/other-1.0-py3-none-any.whl",
        f"/local/files/{SHA[:10]}/{DIST.wheel_filename}",
        f"/other/files/{SHA}/{DIST.wheel_filename}",
        f"/local/files/{SHA}/..%2F..%2Fstilton.sqlite3",
    ],
)
def test_unknown_files_are_404(client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 404
