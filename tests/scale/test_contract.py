"""The storage contract: one suite, run on every backend pair (SQLite + directory, PostgreSQL +
directory, PostgreSQL + S3). What an index needs of its database and blob store behaves the
same on each: blobs and how they are delivered, hosted files from upload to deletion, the
proxy cache's upserts, users and tokens, search, leases, and the change feed between two
processes' runtimes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from stilton.core.errors import StorageError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.metadata import read_wheel_metadata
from stilton.core.names import ProjectName
from stilton.runtime import Runtime, open_runtime
from stilton.storage import search, upstream_cache
from stilton.storage.blobs import RedirectTo, SendPath, StreamBlob
from stilton.storage.changes import Change
from stilton.storage.upstream_cache import FileFacts, StoredPage
from stilton.web.app import create_app
from tests.support.backends import Backend
from tests.support.dists import Dist, wheel_bytes, write_wheel
from tests.support.uploads import basic_auth, upload_fields


@pytest.fixture
def runtime(backend: Backend, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(backend.settings(tmp_path / "data"))
    yield opened
    opened.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the blob store ------------------------------------------------------------------------------


def test_blobs_are_kept_read_and_delivered_by_plan(runtime: Runtime, backend: Backend) -> None:
    blobs = runtime.blobs
    data = bytes(range(256)) * 3000
    sha256 = _sha(data)
    assert blobs.stat(sha256) is None and not blobs.exists(sha256)
    blobs.put_bytes(data, sha256)
    assert blobs.stat(sha256) == len(data) and blobs.exists(sha256)
    assert blobs.read(sha256) == data
    assert b"".join(blobs.iter_range(sha256, 1000, 300_000)) == data[1000:300_001]
    with blobs.open_reader(sha256, len(data)) as reader:
        reader.seek(-10, 2)
        assert reader.read() == data[-10:]
    assert (sha256, len(data)) in set(blobs.list_blobs())
    plan = blobs.delivery(sha256, len(data))
    assert isinstance(plan, StreamBlob if backend.blob_url else SendPath)
    blobs.delete(sha256)
    assert blobs.stat(sha256) is None
    blobs.delete(sha256)  # deleting what is gone is no error


def test_a_spooled_file_is_put_and_its_spool_removed(runtime: Runtime) -> None:
    spool = runtime.blobs.open_spool()
    spool.write(b"spooled bytes")
    spool.sync()
    runtime.blobs.put_spooled(spool, _sha(b"spooled bytes"))
    assert runtime.blobs.read(_sha(b"spooled bytes")) == b"spooled bytes"
    assert not spool.path.exists()


def test_bytes_under_the_wrong_digest_are_refused(runtime: Runtime) -> None:
    with pytest.raises(StorageError, match="wrong digest"):
        runtime.blobs.put_bytes(b"x", "0" * 64)
    assert runtime.blobs.stat("0" * 64) is None


def test_a_wheels_metadata_is_read_through_the_store(runtime: Runtime) -> None:
    dist = Dist("reader-demo", "1.0", padding=2 * 2**20)
    data = wheel_bytes(dist)
    runtime.blobs.put_bytes(data, _sha(data))
    with runtime.blobs.open_reader(_sha(data), len(data)) as wheel:
        metadata = read_wheel_metadata(wheel, parse_distribution_filename(dist.wheel_filename))
    assert metadata == dist.metadata()
    with zipfile.ZipFile(runtime.blobs.open_reader(_sha(data), len(data))) as archive:
        assert archive.testzip() is None


def test_the_store_is_ready(runtime: Runtime) -> None:
    assert runtime.check_ready() == {}


# -- hosted files, served ----------------------------------------------------------------------


def test_an_upload_is_served_whole_and_in_ranges(backend: Backend, tmp_path: Path) -> None:
    settings = backend.settings(tmp_path / "data")
    dist = Dist("contract-demo", "1.0")
    data = wheel_bytes(dist)
    with TestClient(create_app(settings)) as client:
        runtime = open_runtime(settings)
        try:
            secret = runtime.auth.create_token(None, "tests")[1]
        finally:
            runtime.close()
        response = client.post(
            "/local/",
            data=upload_fields(dist, data),
            files={"content": (dist.wheel_filename, data, "application/octet-stream")},
            headers=basic_auth("__token__", secret),
        )
        assert response.status_code == 200, response.text
        page = client.get(
            "/local/simple/contract-demo/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        (entry,) = page.json()["files"]
        url = f"/local/files/{_sha(data)}/{dist.wheel_filename}"
        assert entry["url"].endswith(url)
        assert client.get(url).content == data
        ranged = client.get(url, headers={"Range": "bytes=10-99"})
        assert (ranged.status_code, ranged.content) == (206, data[10:100])
        metadata = client.get(url + ".metadata")
        assert metadata.content == dist.metadata()


def test_presigned_redirects_when_asked(backend: Backend, tmp_path: Path) -> None:
    if not backend.blob_url:
        pytest.skip("only a bucket signs URLs")
    settings = backend.settings(tmp_path / "data", presigned_url_seconds=60)
    runtime = open_runtime(settings)
    try:
        path = write_wheel(Dist("signed-demo", "1.0"), tmp_path)
        runtime.hosted("local").import_file(path, "tests")
        data = path.read_bytes()
        plan = runtime.blobs.delivery(_sha(data), len(data))
        assert isinstance(plan, RedirectTo) and "Signature" in plan.url
        assert "Signature" not in repr(plan)
    finally:
        runtime.close()
    with TestClient(create_app(settings)) as client:
        url = f"/local/files/{_sha(data)}/{path.name}"
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["cache-control"] == "no-store"
        assert httpx.get(answer.headers["location"]).content == data


def test_yank_and_delete_reach_another_process(backend: Backend, tmp_path: Path) -> None:
    """Two runtimes on the same storage, as two replicas (or a replica and the CLI)."""
    settings = backend.settings(tmp_path / "data")
    writer, reader = open_runtime(settings), open_runtime(settings)
    heard: list[Change] = []
    reader.feed.subscribe(heard.extend)
    try:
        reader.feed.poll()  # the first poll only learns where the feed is
        path = write_wheel(Dist("feed-demo", "1.0"), tmp_path)
        hosted = writer.hosted("local")
        hosted.import_file(path, "tests")
        hosted.set_yanked("feed-demo", "1.0", None, yanked=True, reason="broken")
        reader.feed.poll()
        assert ("local", "feed-demo") in {(c.index, c.project) for c in heard}
        detail = reader.hosted("local").find_detail(ProjectName("feed-demo"))
        assert detail is not None and [f.yanked for f in detail.files] == [True]
        hosted.delete("feed-demo", None, None)
        gone = reader.hosted("local").find_detail(ProjectName("feed-demo"))
        assert gone is None or gone.files == ()
    finally:
        writer.close()
        reader.close()


# -- the proxy cache, users, search --------------------------------------------------------------


def test_proxy_cache_writes_are_upserts(runtime: Runtime) -> None:
    record = runtime.get_index_record("pypi")
    now = datetime.now(UTC)
    page = StoredPage(ProjectName("demo"), b"doc", 1, '"e"', None, 3, now, now)
    with runtime.database.begin() as connection:
        for _ in range(2):  # two replicas saving the same page
            upstream_cache.save_page(connection, record, page)
            upstream_cache.add_cached(connection, record, "a" * 64, 10, now)
            upstream_cache.save_facts(
                connection, record, page.name, FileFacts("demo-1.0.tar.gz", "a" * 64, 10)
            )
    with runtime.database.connect() as connection:
        assert upstream_cache.find_page(connection, record, page.name) == page
        assert upstream_cache.cache_stats(connection, record) == (1, 10)
        assert (
            upstream_cache.find_facts(connection, record, page.name)["demo-1.0.tar.gz"].size == 10
        )


def test_users_tokens_and_search(runtime: Runtime, tmp_path: Path) -> None:
    from stilton.auth.credentials import Credentials

    runtime.auth.add_user("alice", "correct horse battery")
    _record, secret = runtime.auth.create_token(None, "laptop", user="alice")
    principal = runtime.auth.authenticate(Credentials("__token__", secret), address="127.0.0.1")
    assert principal.username == "alice"
    runtime.hosted("local").import_file(write_wheel(Dist("searchable-thing", "1.0"), tmp_path), "t")
    with runtime.database.begin() as connection:
        search.catch_up(connection)
    with runtime.database.connect() as connection:
        hits = search.search(connection, "searchable", ["local"], 10)
        typo = search.search(connection, "serchable-thing", ["local"], 10)
    assert [hit.doc.name for hit in hits] == ["searchable-thing"]
    assert [(hit.doc.name, hit.match) for hit in typo] == [("searchable-thing", "fuzzy")]


HOLDER = """
import asyncio, json, sys
from stilton.runtime import open_leases
from stilton.settings import Settings

async def main() -> None:
    leases = open_leases(Settings.from_env({}, json.loads(sys.argv[1])))
    async with leases.hold("file 1 demo.whl") as had:
        print("held" if had else "not had", flush=True)
        sys.stdin.readline()
    print("released", flush=True)

asyncio.run(main())
"""


def test_leases_have_one_holder_at_a_time(backend: Backend, tmp_path: Path) -> None:
    """A lease held by another process (as another worker or replica) is waited for."""
    from stilton.runtime import open_leases

    values = {"data_dir": str(tmp_path / "data"), **backend.values()}
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, json.dumps(values)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdout is not None and other.stdin is not None
    assert other.stdout.readline().strip() == "held"
    leases = open_leases(backend.settings(tmp_path / "data"))

    async def take() -> bool:
        async with leases.hold("file 1 demo.whl") as had:
            return had

    async def scenario() -> None:
        waiting = asyncio.ensure_future(take())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the other process holds it
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("\n")
        other.stdin.flush()
        assert await asyncio.wait_for(waiting, 10)

    try:
        asyncio.run(scenario())
        assert other.stdout.readline().strip() == "released"
    finally:
        leases.close()
        other.kill()
        other.wait()
