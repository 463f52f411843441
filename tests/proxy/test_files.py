"""Proxy files and metadata: downloaded once, verified before they are kept, enriched with a
sha256 and PEP 658 metadata, evicted least-recently-used beyond the cap."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.settings import Settings
from stilton.web.app import create_app
from tests.proxy.conftest import JSON, ProxyFactory, blob_files
from tests.support.dists import Dist
from tests.support.metrics import scrape, value
from tests.support.upstream import FakeUpstream, Fault

WHEEL = "alpha-1.0-py3-none-any.whl"


def file_entry(client: TestClient, project: str, filename: str) -> dict[str, Any]:
    document = client.get(f"/up/simple/{project}/", headers=JSON).json()
    (entry,) = [f for f in document["files"] if f["filename"] == filename]
    return entry  # type: ignore[no-any-return]


def downloads(upstream: FakeUpstream, filename: str) -> int:
    return upstream.count(
        lambda r: r.method == "GET" and r.path == f"/files/{filename}" and "range" not in r.headers
    )


def test_file_is_downloaded_once_and_kept(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    for _ in range(3):
        response = client.get(entry["url"])
        assert response.status_code == 200
        assert response.content == upstream.file_bytes(WHEEL)
        assert response.headers["etag"] == f'"{upstream.sha256(WHEEL)}"'
    assert downloads(upstream, WHEEL) == 1
    upstream.stop()
    assert client.get(entry["url"]).content == upstream.file_bytes(WHEEL)


@pytest.mark.parametrize("fault", [Fault.WRONG_HASH, Fault.TRUNCATED, Fault.WRONG_SIZE])
def test_bad_bytes_are_never_kept(
    proxy: ProxyFactory, upstream: FakeUpstream, settings: Settings, fault: Fault
) -> None:
    client = proxy(ttl=0)  # the page is asked for again once the upstream is mended
    upstream.set_fault(fault)
    entry = file_entry(client, "beta", "beta-1.0.tar.gz")
    for _ in range(2):
        response = client.get(entry["url"])
        assert response.status_code == 502
        assert "beta-1.0.tar.gz" in response.text
    assert blob_files(settings) == []
    assert list((settings.blob_dir / "tmp").glob("*.part")) == []
    upstream.clear_faults()
    good = client.get(file_entry(client, "beta", "beta-1.0.tar.gz")["url"])
    assert good.status_code == 200
    assert good.content == upstream.file_bytes("beta-1.0.tar.gz")


def test_files_without_upstream_hashes_get_one(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.set_fault(Fault.NO_HASHES)
    client = proxy()
    document = client.get("/up/simple/alpha/", headers=JSON).json()
    assert {f["filename"]: f["hashes"]["sha256"] for f in document["files"]} == {
        name: upstream.sha256(name)
        for name in ("alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "alpha-1.1-py3-none-any.whl")
    }
    html = client.get("/up/simple/alpha/").text
    assert f"#sha256={upstream.sha256(WHEEL)}" in html
    client.get("/up/simple/alpha/", headers=JSON)
    assert downloads(upstream, WHEEL) == 1


def test_upstream_metadata_is_passed_through(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    metadata = client.get(entry["url"] + ".metadata")
    assert metadata.status_code == 200
    assert metadata.content == upstream.metadata_bytes(WHEEL)
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(metadata.content).hexdigest()}
    assert downloads(upstream, WHEEL) == 0


def test_missing_metadata_is_read_with_range_requests(
    proxy: ProxyFactory, upstream: FakeUpstream, settings: Settings
) -> None:
    upstream.set_fault(Fault.NO_METADATA)
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    assert entry["core-metadata"] is True
    assert 'data-core-metadata="true"' in client.get("/up/simple/alpha/").text
    metadata = client.get(entry["url"] + ".metadata")
    assert metadata.status_code == 200
    assert metadata.content == upstream.metadata_bytes(WHEEL)
    assert downloads(upstream, WHEEL) == 0
    assert upstream.count(lambda r: r.path == f"/files/{WHEEL}" and "range" in r.headers) >= 1
    digest = hashlib.sha256(metadata.content).hexdigest()
    # The page already rendered stays as it is (right without the hash); the next reading of
    # the page (another worker's, or this one's after its TTL) offers the hash.
    assert file_entry(client, "alpha", WHEEL)["core-metadata"] is True
    with TestClient(create_app(settings)) as other:
        assert file_entry(other, "alpha", WHEEL)["core-metadata"] == {"sha256": digest}


def test_without_ranges_the_wheel_is_downloaded_for_its_metadata(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    upstream.set_fault(Fault.NO_METADATA)
    upstream.set_fault(Fault.NO_RANGE)
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    metadata = client.get(entry["url"] + ".metadata")
    assert metadata.content == upstream.metadata_bytes(WHEEL)
    assert downloads(upstream, WHEEL) == 1
    assert client.get(entry["url"]).content == upstream.file_bytes(WHEEL)
    assert downloads(upstream, WHEEL) == 1


def test_metadata_of_a_cached_wheel_needs_no_upstream(
    proxy: ProxyFactory, upstream: FakeUpstream
) -> None:
    upstream.set_fault(Fault.NO_METADATA)
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    client.get(entry["url"])
    upstream.stop()
    assert client.get(entry["url"] + ".metadata").content == upstream.metadata_bytes(WHEEL)


def test_sdists_have_no_metadata_file(proxy: ProxyFactory) -> None:
    client = proxy()
    entry = file_entry(client, "alpha", "alpha-1.0.tar.gz")
    assert entry["core-metadata"] is False
    assert client.get(entry["url"] + ".metadata").status_code == 404


def test_ranges_of_an_uncached_file(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    response = client.get(entry["url"], headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert response.content == upstream.file_bytes(WHEEL)[-10:]


def test_unknown_file_urls_are_404(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    client = proxy()
    entry = file_entry(client, "alpha", WHEEL)
    wrong = entry["url"].replace(upstream.sha256(WHEEL), "0" * 64)
    assert client.get(wrong).status_code == 404
    assert client.get("/up/files/" + "0" * 64 + "/nothing-1.0.tar.gz").status_code == 404


def test_large_files_stream_and_are_verified(proxy: ProxyFactory, upstream: FakeUpstream) -> None:
    big = Dist("huge", "1.0", padding=12 * 2**20)
    upstream.add(big, sdist=False)
    client = proxy()
    entry = file_entry(client, "huge", big.wheel_filename)
    response = client.get(entry["url"])
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == entry["hashes"]["sha256"]
    assert downloads(upstream, big.wheel_filename) == 1


def test_large_file_with_wrong_hash_never_completes(
    proxy: ProxyFactory, upstream: FakeUpstream, settings: Settings
) -> None:
    big = Dist("huge", "1.0", padding=12 * 2**20)
    upstream.add(big, sdist=False)
    upstream.set_fault(Fault.WRONG_HASH)
    client = proxy()
    entry = file_entry(client, "huge", big.wheel_filename)
    received = bytearray()

    def read_all() -> None:
        with client.stream("GET", entry["url"]) as response:
            for chunk in response.iter_bytes():
                received.extend(chunk)

    with pytest.raises(Exception):  # noqa: B017, PT011 - the transfer is cut short
        read_all()
    assert len(received) < len(upstream.file_bytes(big.wheel_filename))
    assert blob_files(settings) == []


def test_cache_is_evicted_least_recently_used(
    proxy: ProxyFactory, upstream: FakeUpstream, settings: Settings
) -> None:
    for version in ("1.0", "2.0", "3.0"):
        upstream.add(Dist("sized", version, padding=200_000), sdist=False)
    client = proxy(cache_max_bytes=500_000)
    entries = [
        file_entry(client, "sized", f"sized-{v}-py3-none-any.whl") for v in ("1.0", "2.0", "3.0")
    ]
    for entry in entries:
        assert client.get(entry["url"]).status_code == 200
    kept = {p.name for p in blob_files(settings)}
    assert entries[0]["hashes"]["sha256"] not in kept
    assert entries[2]["hashes"]["sha256"] in kept
    assert client.get(entries[0]["url"]).status_code == 200
    assert downloads(upstream, "sized-1.0-py3-none-any.whl") == 2


def test_upstream_credentials_are_used_and_never_shown(proxy: ProxyFactory) -> None:
    with FakeUpstream(auth=("mirror-user", "s3cret-pass")) as private:
        private.add(Dist("internal", "1.0"))
        client = proxy(url=private.simple_url, username="mirror-user", password="s3cret-pass")
        page = client.get("/up/simple/internal/", headers=JSON)
        assert page.status_code == 200
        assert "s3cret" not in page.text
        assert client.get(page.json()["files"][0]["url"]).status_code == 200
        assert all(r.carried_auth for r in private.requests)
        listing = client.get("/")
        assert "s3cret" not in listing.text


def test_wrong_upstream_credentials_are_reported_without_secrets(proxy: ProxyFactory) -> None:
    with FakeUpstream(auth=("mirror-user", "s3cret-pass")) as private:
        private.add(Dist("internal", "1.0"))
        client = proxy(url=private.simple_url.replace("http://", "http://mirror-user:wr0ng@"))
        response = client.get("/up/simple/internal/")
        assert response.status_code == 502
        assert "credentials" in response.text
        assert "wr0ng" not in response.text


def test_learning_a_size_leaves_the_rendered_page_alone(
    proxy: ProxyFactory, upstream: FakeUpstream, settings: Settings
) -> None:
    """An HTML page gives no sizes: fetching the file teaches it, which is kept for the next
    reading of the page but does not make every page a cold install read render again."""
    upstream.set_fault(Fault.HTML_ONLY)
    client = proxy()
    first = client.get("/up/simple/alpha/", headers=JSON)
    (entry,) = [f for f in first.json()["files"] if f["filename"] == WHEEL]
    assert "size" not in entry
    assert client.get(entry["url"]).content == upstream.file_bytes(WHEEL)
    hits = value(scrape(client), "stilton_page_cache_total", result="hit")
    again = client.get("/up/simple/alpha/", headers=JSON)
    assert value(scrape(client), "stilton_page_cache_total", result="hit") == hits + 1
    assert again.headers["etag"] == first.headers["etag"]
    with TestClient(create_app(settings)) as other:
        assert file_entry(other, "alpha", WHEEL)["size"] == len(upstream.file_bytes(WHEEL))
