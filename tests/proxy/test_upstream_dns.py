"""The upstream client resolves a host once per connection, checks those addresses, and
connects to exactly them: a second lookup (where DNS rebinding would strike) never happens.

Host names under ``.invalid`` (RFC 6761) never resolve in the system's resolver, so a request
that reaches a listener through one proves the connection used the client's own lookup.
"""

from __future__ import annotations

import asyncio

import pytest

from stilton.core.errors import UpstreamError
from stilton.core.upstream import HostRefused, UpstreamConfig
from stilton.upstream.client import UpstreamClient
from tests.support.scripted import Reply, ScriptedServer


class Resolver:
    """A DNS stand-in that answers from a table and counts its lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers.get(host, [])


def fetch(config: UpstreamConfig, resolver: Resolver, url: str) -> bytes | None:
    async def run() -> bytes | None:
        client = UpstreamClient(config, resolve=resolver)
        try:
            return await client.fetch_bytes(url)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_connection_goes_to_the_address_that_was_checked() -> None:
    with ScriptedServer("127.0.0.2") as listener:
        listener.routes["/doc"] = Reply(200, b"pinned")
        host = f"files.stilton.invalid:{listener.port}"
        config = UpstreamConfig.from_mapping(
            {"url": "http://127.0.0.1:9/simple/", "file_hosts": [host]}
        )
        resolver = Resolver({"files.stilton.invalid": ["127.0.0.2"]})
        assert fetch(config, resolver, f"http://{host}/doc") == b"pinned"
        assert resolver.lookups == ["files.stilton.invalid"]
        assert [r.headers["host"] for r in listener.requests] == [host]


def test_an_unnamed_host_with_any_non_public_address_is_refused_unconnected() -> None:
    with ScriptedServer("127.0.0.2") as listener:
        config = UpstreamConfig.from_mapping({"url": "http://127.0.0.1:9/simple/"})
        resolver = Resolver({"mixed.stilton.invalid": ["127.0.0.2", "127.0.0.3"]})
        with pytest.raises(HostRefused) as refused:
            fetch(config, resolver, f"http://mixed.stilton.invalid:{listener.port}/doc")
        assert refused.value.address == "127.0.0.2"
        assert f"mixed.stilton.invalid:{listener.port}" in refused.value.message
        assert listener.connections == 0


def test_a_name_that_does_not_resolve_is_an_upstream_error() -> None:
    config = UpstreamConfig.from_mapping({"url": "http://127.0.0.1:9/simple/"})
    with pytest.raises(UpstreamError) as failed:
        fetch(config, Resolver({}), "http://nowhere.stilton.invalid/doc")
    assert "nowhere.stilton.invalid" in failed.value.message
