"""Size and time limits on what an upstream sends: decoded pages are capped (a compression bomb
or an endless page is refused at ``max_page_size`` and costs no more memory than about that),
whole requests end at ``request_deadline``, and file downloads must keep a minimum rate
instead. Tests use tiny limits, and assert on the errors, never on durations."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from stilton.core.filenames import parse_distribution_filename
from stilton.core.upstream import DEFAULT_MAX_PAGE_SIZE
from stilton.settings import Settings
from stilton.upstream.remote_wheel import MAX_FETCHED, fetch_wheel_metadata
from tests.support.dists import Dist, wheel_bytes
from tests.support.hostile import (
    JSON,
    PAGE_PATH,
    PROJECT,
    SIMPLE_JSON,
    WHEEL,
    Link,
    answered_while_healthy,
    blob_files,
    page,
    page_reply,
    proxy_of,
    seen_projects,
    settings_for,
    wheel_link,
    wheel_reply,
)
from tests.support.scripted import Reply, ScriptedServer, gzip_bomb, trickle

MiB = 2**20
PAGE_URL = f"/up/simple/{PROJECT}/"


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, upstream: ScriptedServer) -> Settings:
    return settings_for(tmp_path, upstream.url)


def bomb_reply(decoded_size: int) -> Reply:
    headers = {"Content-Type": SIMPLE_JSON, "Content-Encoding": "gzip"}
    return Reply(200, gzip_bomb(decoded_size), headers, declare_length=False)


def endless_page(size: int, *, declare_length: bool) -> Reply:
    def chunks() -> Iterator[bytes]:
        yield b'{"meta": {"api-version": "1.1"}, "name": "evil", "files": [], "x": "'
        for _ in range(size // MiB):
            yield b"x" * MiB

    return Reply(200, chunks, {"Content-Type": SIMPLE_JSON}, declare_length=declare_length)


def test_gzip_bomb_page_is_refused_at_the_default_cap(
    settings: Settings, upstream: ScriptedServer
) -> None:
    upstream.routes[PAGE_PATH] = bomb_reply(2 * 2**30)  # 2 GiB of zeros, ~2 MB on the wire
    with proxy_of(settings, upstream.url) as client:
        response = answered_while_healthy(client, lambda: client.get(PAGE_URL))
        assert response.status_code == 502
        assert f"larger than {DEFAULT_MAX_PAGE_SIZE} bytes" in response.text
        assert "max_page_size" in response.text
        assert PROJECT not in seen_projects(client)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(bomb_reply(2 * 2**30), id="gzip-bomb"),
        pytest.param(endless_page(50 * MiB, declare_length=False), id="undeclared-50MB"),
        pytest.param(endless_page(4 * MiB, declare_length=True), id="declared-4MB"),
    ],
)
def test_oversized_page_costs_memory_in_proportion_to_the_cap(
    settings: Settings, upstream: ScriptedServer, reply: Reply
) -> None:
    upstream.routes[PAGE_PATH] = reply
    with proxy_of(settings, upstream.url, max_page_size=MiB) as client:
        tracemalloc.start()
        try:
            response = client.get(PAGE_URL)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 502
        assert f"larger than {MiB} bytes" in response.text
        assert "max_page_size" in response.text
        assert peak < 16 * MiB  # the page itself would be 50 MB to 2 GiB
        assert client.get("/-/health").status_code == 200
        assert PROJECT not in seen_projects(client)


def test_a_compressed_page_within_the_cap_is_read(
    settings: Settings, upstream: ScriptedServer
) -> None:
    import gzip

    body = gzip.compress(page(wheel_link(upstream.url)))
    headers = {"Content-Type": SIMPLE_JSON, "Content-Encoding": "gzip"}
    upstream.routes[PAGE_PATH] = Reply(200, body, headers)
    with proxy_of(settings, upstream.url) as client:
        files = client.get(PAGE_URL, headers=JSON).json()["files"]
        assert [f["filename"] for f in files] == [WHEEL]


def test_trickling_page_ends_at_the_request_deadline(
    settings: Settings, upstream: ScriptedServer
) -> None:
    upstream.routes[PAGE_PATH] = trickle(page(), 0.2, SIMPLE_JSON)  # minutes in all
    with proxy_of(settings, upstream.url, request_deadline=0.5) as client:
        response = answered_while_healthy(client, lambda: client.get(PAGE_URL))
        assert response.status_code == 504
        assert "within 0.5 s" in response.text
        assert "request_deadline" in response.text
        assert PROJECT not in seen_projects(client)


def test_trickling_page_is_served_stale_when_a_copy_is_kept(
    settings: Settings, upstream: ScriptedServer
) -> None:
    upstream.routes[PAGE_PATH] = page_reply(wheel_link(upstream.url))
    with proxy_of(settings, upstream.url, request_deadline=0.5, ttl=0) as client:
        assert client.get(PAGE_URL).status_code == 200
        upstream.routes[PAGE_PATH] = trickle(page(), 0.2, SIMPLE_JSON)
        response = client.get(PAGE_URL, headers=JSON)
        assert response.status_code == 200
        assert "request_deadline" in response.headers["x-stilton-stale"]
        assert [f["filename"] for f in response.json()["files"]] == [WHEEL]


def test_trickling_metadata_ends_at_the_request_deadline(
    settings: Settings, upstream: ScriptedServer
) -> None:
    link = wheel_link(upstream.url)
    upstream.routes[PAGE_PATH] = page_reply(Link(link.filename, link.url, link.sha256, True))
    upstream.routes[f"/files/{WHEEL}.metadata"] = trickle(b"Metadata-Version: 2.1\n", 0.2, "")
    with proxy_of(settings, upstream.url, request_deadline=0.5) as client:
        (entry,) = client.get(PAGE_URL, headers=JSON).json()["files"]
        response = answered_while_healthy(client, lambda: client.get(entry["url"] + ".metadata"))
        assert response.status_code == 504
        assert "request_deadline" in response.text


def test_json_api_bomb_falls_back_to_the_page(settings: Settings, upstream: ScriptedServer) -> None:
    upstream.routes[PAGE_PATH] = page_reply(wheel_link(upstream.url))
    upstream.routes[f"/files/{WHEEL}"] = wheel_reply()
    upstream.routes[f"/pypi/{PROJECT}/json"] = bomb_reply(2 * 2**30)
    with proxy_of(settings, upstream.url, max_page_size=MiB) as client:
        response = answered_while_healthy(client, lambda: client.get(f"/up/pypi/{PROJECT}/json"))
        assert response.status_code == 200
        assert response.json()["urls"][0]["filename"] == WHEEL


def test_stalled_download_is_abandoned_below_the_minimum_rate(
    settings: Settings, upstream: ScriptedServer
) -> None:
    link = wheel_link(upstream.url)
    upstream.routes[PAGE_PATH] = page_reply(link)
    upstream.routes[f"/files/{WHEEL}"] = trickle(wheel_reply().body, 0.2, "")  # type: ignore[arg-type]
    config = {"download_min_bytes": 1000, "download_window": 0.5}
    with proxy_of(settings, upstream.url, **config) as client:
        (entry,) = client.get(PAGE_URL, headers=JSON).json()["files"]
        response = answered_while_healthy(client, lambda: client.get(entry["url"]))
        assert response.status_code == 504
        assert "download_min_bytes" in response.text and "download_window" in response.text
        assert blob_files(settings) == []


def test_slow_but_steady_download_outlives_the_request_deadline(
    settings: Settings, upstream: ScriptedServer
) -> None:
    """A download's deadline is a rate, not a total: this one takes longer than the request
    deadline and still arrives."""
    data = wheel_bytes(Dist(PROJECT, "2.0", padding=64 * 1024))
    filename = Dist(PROJECT, "2.0").wheel_filename
    upstream.routes[PAGE_PATH] = page_reply(
        Link(filename, f"{upstream.url}/files/{filename}", hashlib.sha256(data).hexdigest())
    )
    pieces = [data[i : i + 8192] for i in range(0, len(data), 8192)]
    upstream.routes[f"/files/{filename}"] = Reply(200, lambda: pieces, pause=0.1)
    config = {"request_deadline": 0.3, "download_min_bytes": 1000, "download_window": 0.5}
    with proxy_of(settings, upstream.url, **config) as client:
        (entry,) = client.get(PAGE_URL, headers=JSON).json()["files"]
        response = client.get(entry["url"])
        assert response.status_code == 200
        assert response.content == data


def test_hostile_zip_directory_is_not_chased_by_range_requests() -> None:
    """A wheel whose end record claims a 1 GiB central directory: metadata by ranges gives up
    (the proxy then downloads the wheel under the download limits) instead of asking for it."""
    size = 2 * 2**30
    directory = 2**30
    end_record = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, directory, size - 22 - directory, 0
    )
    asked: list[tuple[int, int]] = []

    async def fetch(start: int, end: int) -> bytes:
        asked.append((start, end))
        assert end - start + 1 <= MAX_FETCHED  # never asked, so never allocated here
        data = bytes(end - start + 1)
        return data[: -len(end_record)] + end_record if end == size - 1 else data

    dist = parse_distribution_filename(WHEEL)
    assert asyncio.run(fetch_wheel_metadata(dist, size, fetch)) is None
    assert sum(end - start + 1 for start, end in asked) <= MAX_FETCHED
