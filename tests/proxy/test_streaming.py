"""A big file streams to the client while it arrives from the upstream, even when the upstream's
page does not say how big it is; its last bytes still wait for the digest check."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stilton.settings import Settings
from tests.support.hostile import JSON, PAGE_PATH, Link, page_reply, proxy_of, settings_for
from tests.support.scripted import Reply, ScriptedServer

FILENAME = "evil-1.0.tar.gz"
HEAD = bytes(range(256)) * (12 * 2**20 // 256)  # more than the proxy waits for before streaming
TAIL = b"the rest" * 1000
DATA = HEAD + TAIL
SAFETY = 60.0  # seconds the upstream waits for the client, so a failing test still ends


class HeldBack:
    """A file whose upstream sends its head, then waits until the client has had bytes."""

    def __init__(self) -> None:
        self.client_had_bytes = threading.Event()
        self.released_by_client = False

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, len(HEAD), 2**20):
            yield HEAD[start : start + 2**20]
        self.released_by_client = self.client_had_bytes.wait(SAFETY)
        yield TAIL


@pytest.fixture
def held() -> HeldBack:
    return HeldBack()


@pytest.fixture
def upstream(held: HeldBack) -> Iterator[ScriptedServer]:
    with ScriptedServer("127.0.0.1") as server:
        server.routes[f"/files/{FILENAME}"] = Reply(200, held.chunks, declare_length=False)
        link = Link(FILENAME, f"{server.url}/files/{FILENAME}", hashlib.sha256(DATA).hexdigest())
        server.routes[PAGE_PATH] = page_reply(link)
        yield server


@pytest.fixture
def settings(tmp_path: Path, upstream: ScriptedServer) -> Settings:
    return settings_for(tmp_path, upstream.url)


def test_a_file_of_unknown_size_streams_while_it_arrives(
    upstream: ScriptedServer, settings: Settings, held: HeldBack
) -> None:
    with proxy_of(settings, upstream.url) as client:
        (entry,) = client.get(PAGE_PATH.replace("/simple", "/up/simple"), headers=JSON).json()[
            "files"
        ]
        received = bytearray()
        with client.stream("GET", entry["url"]) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received.extend(chunk)
                held.client_had_bytes.set()
        assert held.released_by_client, "the client got nothing until the whole file was in"
        assert bytes(received) == DATA
