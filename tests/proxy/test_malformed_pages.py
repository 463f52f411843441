"""Malformed upstream pages: repeated links, bad digests, links that are not http(s), numbers
too big to store, and bodies the parsers choke on. Each is either cleaned (the page is served
without the bad parts) or refused as a 502 naming the page; never a 500, and nothing bad kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stilton.settings import Settings
from tests.support.hostile import (
    JSON,
    PAGE_PATH,
    PROJECT,
    SIMPLE_JSON,
    WHEEL,
    WHEEL_BYTES,
    WHEEL_SHA256,
    Link,
    answered_while_healthy,
    blob_files,
    page_reply,
    proxy_of,
    seen_projects,
    settings_for,
    wheel_link,
    wheel_reply,
)
from tests.support.scripted import Reply, ScriptedServer

PAGE_URL = f"/up/simple/{PROJECT}/"
SDIST = f"{PROJECT}-1.0.tar.gz"


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer("127.0.0.1") as server:
        server.routes[f"/files/{WHEEL}"] = wheel_reply()
        yield server


@pytest.fixture
def settings(tmp_path: Path, upstream: ScriptedServer) -> Settings:
    return settings_for(tmp_path, upstream.url)


def json_reply(document: Any) -> Reply:
    return Reply(200, json.dumps(document).encode(), {"Content-Type": SIMPLE_JSON})


def html_reply(*anchors: str) -> Reply:
    body = "<!DOCTYPE html><html><body>" + "".join(anchors) + "</body></html>"
    return Reply(200, body.encode(), {"Content-Type": "text/html"})


def served_files(upstream: ScriptedServer, settings: Settings) -> dict[str, dict[str, Any]]:
    with proxy_of(settings, upstream.url) as client:
        response = answered_while_healthy(client, lambda: client.get(PAGE_URL, headers=JSON))
        assert response.status_code == 200
        return {f["filename"]: f for f in response.json()["files"]}


def refused(upstream: ScriptedServer, settings: Settings) -> str:
    """The 502's text, after checking nothing of the page was kept."""
    with proxy_of(settings, upstream.url) as client:
        response = answered_while_healthy(client, lambda: client.get(PAGE_URL))
        assert response.status_code == 502
        assert f"{upstream.url}{PAGE_PATH}" in response.text
        assert PROJECT not in seen_projects(client)
        return response.text


def test_repeated_link_keeps_the_first(upstream: ScriptedServer, settings: Settings) -> None:
    link = wheel_link(upstream.url)
    upstream.routes[PAGE_PATH] = page_reply(link, link, Link(WHEEL, link.url + "?second"))
    files = served_files(upstream, settings)
    assert list(files) == [WHEEL]
    assert files[WHEEL]["hashes"] == {"sha256": WHEEL_SHA256}


def test_repeated_html_link_keeps_the_first(upstream: ScriptedServer, settings: Settings) -> None:
    anchor = f'<a href="{upstream.url}/files/{WHEEL}#sha256={WHEEL_SHA256}">{WHEEL}</a>'
    upstream.routes[PAGE_PATH] = html_reply(anchor, anchor)
    assert list(served_files(upstream, settings)) == [WHEEL]


def test_links_disagreeing_on_the_digest_are_all_dropped(
    upstream: ScriptedServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    link = wheel_link(upstream.url)
    other = Link(SDIST, f"{upstream.url}/files/{SDIST}", "b" * 64)
    upstream.routes[PAGE_PATH] = page_reply(link, other, Link(WHEEL, link.url, "a" * 64))
    with caplog.at_level(logging.WARNING, logger="stilton.upstream"):
        assert list(served_files(upstream, settings)) == [SDIST]
    assert any(WHEEL in r.getMessage() and "sha256" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("digest", ["zz", "0" * 63, "0" * 65, "g" * 64, " " + "a" * 63])
def test_malformed_digest_is_dropped_and_computed(
    upstream: ScriptedServer, settings: Settings, digest: str
) -> None:
    upstream.routes[PAGE_PATH] = page_reply(Link(WHEEL, f"{upstream.url}/files/{WHEEL}", digest))
    files = served_files(upstream, settings)
    assert files[WHEEL]["hashes"] == {"sha256": WHEEL_SHA256}
    assert digest.strip() not in files[WHEEL]["url"]


def test_malformed_html_digest_is_dropped_and_computed(
    upstream: ScriptedServer, settings: Settings
) -> None:
    upstream.routes[PAGE_PATH] = html_reply(
        f'<a href="{upstream.url}/files/{WHEEL}#sha256=zz">{WHEEL}</a>'
    )
    assert served_files(upstream, settings)[WHEEL]["hashes"] == {"sha256": WHEEL_SHA256}


def test_links_that_are_not_http_are_dropped(upstream: ScriptedServer, settings: Settings) -> None:
    anchors = [
        f'<a href="{scheme}#sha256={"0" * 64}">{PROJECT}-{n}.0.tar.gz</a>'
        for n, scheme in enumerate(
            ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "data:,x"], 2
        )
    ]
    good = f'<a href="{upstream.url}/files/{WHEEL}#sha256={WHEEL_SHA256}">{WHEEL}</a>'
    upstream.routes[PAGE_PATH] = html_reply(*anchors, good)
    assert list(served_files(upstream, settings)) == [WHEEL]


def test_numbers_too_big_to_store_are_dropped(upstream: ScriptedServer, settings: Settings) -> None:
    file = {"filename": WHEEL, "url": f"{upstream.url}/files/{WHEEL}", "size": 10**30}
    file["hashes"] = {"sha256": WHEEL_SHA256}
    document = {"meta": {"api-version": "1.1", "_last-serial": 10**30}, "name": PROJECT}
    upstream.routes[PAGE_PATH] = json_reply({**document, "files": [file]})
    with proxy_of(settings, upstream.url) as client:
        (entry,) = client.get(PAGE_URL, headers=JSON).json()["files"]
        assert "size" not in entry  # unknown rather than unstorable
        assert client.get(entry["url"]).content == WHEEL_BYTES


def test_deeply_nested_json_is_refused(upstream: ScriptedServer, settings: Settings) -> None:
    body = b'{"meta": ' * 100_000
    upstream.routes[PAGE_PATH] = Reply(200, body, {"Content-Type": SIMPLE_JSON})
    assert "nested too deeply" in refused(upstream, settings)


def test_a_page_without_a_list_of_files_is_refused(
    upstream: ScriptedServer, settings: Settings
) -> None:
    upstream.routes[PAGE_PATH] = json_reply(
        {"meta": {"api-version": "1.1"}, "name": PROJECT, "files": {"not": "a list"}}
    )
    assert "cannot be parsed" in refused(upstream, settings)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"filename": 7, "url": "x", "hashes": {}}, id="filename-not-a-string"),
        pytest.param({"filename": WHEEL, "url": ["x"], "hashes": {}}, id="url-not-a-string"),
        pytest.param(["a", "list"], id="file-not-a-map"),
    ],
)
def test_a_malformed_link_is_dropped_and_the_rest_served(
    upstream: ScriptedServer, settings: Settings, entry: Any
) -> None:
    """One broken entry does not take a project's page down: it is left out."""
    good: dict[str, Any] = {"filename": WHEEL, "url": f"{upstream.url}/files/{WHEEL}"}
    good["hashes"] = {"sha256": WHEEL_SHA256}
    upstream.routes[PAGE_PATH] = json_reply(
        {"meta": {"api-version": "1.1"}, "name": PROJECT, "files": [entry, good]}
    )
    assert list(served_files(upstream, settings)) == [WHEEL]


def test_hashes_that_are_not_a_map_count_as_none(
    upstream: ScriptedServer, settings: Settings
) -> None:
    entry = {"filename": WHEEL, "url": f"{upstream.url}/files/{WHEEL}", "hashes": "zz"}
    upstream.routes[PAGE_PATH] = json_reply(
        {"meta": {"api-version": "1.1"}, "name": PROJECT, "files": [entry]}
    )
    (served,) = served_files(upstream, settings).values()
    assert served["hashes"] == {"sha256": WHEEL_SHA256}  # computed by the proxy


def test_unsupported_api_version_is_refused(upstream: ScriptedServer, settings: Settings) -> None:
    upstream.routes[PAGE_PATH] = json_reply(
        {"meta": {"api-version": "2.0"}, "name": PROJECT, "files": []}
    )
    assert "2.0" in refused(upstream, settings)


def test_refused_page_leaves_nothing_behind(upstream: ScriptedServer, settings: Settings) -> None:
    upstream.routes[PAGE_PATH] = Reply(200, b"[" * 100_000, {"Content-Type": SIMPLE_JSON})
    refused(upstream, settings)
    assert blob_files(settings) == []
