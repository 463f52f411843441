"""The storage contract, for a proxy: a file downloaded from the upstream is spooled, verified
and kept in the blob store, served from it afterwards, and its core metadata read out of the
kept wheel when the upstream offers no metadata and no ranges, on every backend pair."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.runtime import open_runtime
from stilton.web.app import create_app
from tests.support.backends import Backend
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
DIST = Dist("proxied-demo", "1.0", padding=300_000)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.add(DIST, sdist=False)
        fake.set_fault(Fault.NO_METADATA)
        fake.set_fault(Fault.NO_RANGE)
        yield fake


def test_a_proxied_wheel_is_kept_and_its_metadata_read_from_the_store(
    backend: Backend, upstream: FakeUpstream, tmp_path: Path
) -> None:
    settings = backend.settings(tmp_path / "data")
    runtime = open_runtime(settings)
    try:
        runtime.create_index("up", IndexKind.PROXY, upstream={"url": upstream.simple_url})
    finally:
        runtime.close()
    data = upstream.file_bytes(DIST.wheel_filename)
    url = f"/up/files/{hashlib.sha256(data).hexdigest()}/{DIST.wheel_filename}"
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/up/simple/{DIST.name}/", headers=JSON).status_code == 200
        assert client.get(url).content == data  # fetched, verified, kept
        before = len(upstream.requests)
        assert client.get(url + ".metadata").content == DIST.metadata()
        assert client.get(url, headers={"Range": "bytes=0-9"}).content == data[:10]
        assert len(upstream.requests) == before  # both from the kept copy
    runtime = open_runtime(settings)
    try:
        assert runtime.blobs.stat(hashlib.sha256(data).hexdigest()) == len(data)
        assert list(runtime.blobs.list_blobs())
    finally:
        runtime.close()
