"""Where a proxy may connect, and where its upstream credentials may go.

The upstream is a scripted server on 127.0.0.1; "other hosts" are listeners on other loopback
addresses (127.0.0.2, 127.0.0.3, ::1) or on another port of 127.0.0.1. Loopback is not public,
so an unnamed loopback host stands for any internal address: it must be refused before a
connection is made, which the listeners' connection counts show.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.hostile import (
    JSON,
    PAGE_PATH,
    PROJECT,
    WHEEL,
    WHEEL_BYTES,
    answered_while_healthy,
    blob_files,
    page_reply,
    proxy_of,
    seen_projects,
    settings_for,
    wheel_link,
    wheel_reply,
)
from tests.support.scripted import ScriptedServer, redirect
from tests.support.tls import CertificateAuthority
from tests.support.uploads import basic_auth

USER, PASSWORD, TOKEN = "mirror", "pa55-w0rd-6", "t0ken-secret-9"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
CREDENTIALS: dict[str, tuple[dict[str, Any], str]] = {
    "basic": ({"username": USER, "password": PASSWORD}, BASIC),
    "bearer": ({"token": TOKEN}, f"Bearer {TOKEN}"),
}


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, upstream: ScriptedServer) -> Settings:
    return settings_for(tmp_path, upstream.url)


def file_url(client: Any) -> str:
    document = client.get(f"/up/simple/{PROJECT}/", headers=JSON).json()
    (entry,) = document["files"]
    return str(entry["url"])


def assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert TOKEN not in text


@pytest.mark.parametrize("listener_host", ["127.0.0.2", "::1"])
def test_link_to_an_unnamed_loopback_host_is_refused_before_connecting(
    settings: Settings, upstream: ScriptedServer, listener_host: str
) -> None:
    with ScriptedServer(listener_host) as listener:
        listener.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(listener.url))
        with proxy_of(settings, upstream.url, username=USER, password=PASSWORD) as client:
            url = file_url(client)
            response = answered_while_healthy(client, lambda: client.get(url))
            assert response.status_code == 502
            assert listener.netloc in response.text
            assert "loopback address" in response.text
            assert "file_hosts" in response.text and "--file-hosts" in response.text
            assert_no_secret(response.text)
            assert blob_files(settings) == []
        assert listener.connections == 0
        assert listener.requests == []


def test_named_file_host_is_fetched_with_the_upstream_credentials(
    settings: Settings, upstream: ScriptedServer
) -> None:
    """A host listed in file_hosts serves the upstream's files: reachable though it is not
    public, and trusted with the credentials (the design's rule for file hosts)."""
    with ScriptedServer("127.0.0.2") as listener:
        listener.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(listener.url))
        config = {"username": USER, "password": PASSWORD, "file_hosts": [listener.netloc]}
        with proxy_of(settings, upstream.url, **config) as client:
            response = client.get(file_url(client))
            assert response.status_code == 200
            assert response.content == WHEEL_BYTES
        assert [r.authorization for r in listener.requests] == [BASIC]


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_other_origin_on_the_upstreams_host_gets_no_credentials(
    settings: Settings, upstream: ScriptedServer, kind: str
) -> None:
    """The upstream's host is named, so another port of it may be reached; but it is another
    origin, so it gets neither Basic nor Bearer credentials."""
    config, header = CREDENTIALS[kind]
    with ScriptedServer("127.0.0.1") as other:
        other.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(other.url))
        with proxy_of(settings, upstream.url, **config) as client:
            response = client.get(file_url(client))
            assert response.status_code == 200
            assert response.content == WHEEL_BYTES
        assert [r.authorization for r in upstream.requests] == [header]
        assert [r.authorization for r in other.requests] == [None]


def test_redirect_to_an_unnamed_host_is_refused(
    settings: Settings, upstream: ScriptedServer
) -> None:
    with ScriptedServer("127.0.0.3") as listener:
        listener.routes[PAGE_PATH] = page_reply()
        upstream.routes[PAGE_PATH] = redirect(f"{listener.url}{PAGE_PATH}")
        with proxy_of(settings, upstream.url, token=TOKEN) as client:
            response = answered_while_healthy(client, lambda: client.get(f"/up/simple/{PROJECT}/"))
            assert response.status_code == 502
            assert listener.netloc in response.text
            assert "--file-hosts" in response.text
            assert_no_secret(response.text)
            assert PROJECT not in seen_projects(client)
        assert listener.connections == 0


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_redirect_to_another_origin_drops_the_credentials(
    settings: Settings, upstream: ScriptedServer, kind: str
) -> None:
    config, header = CREDENTIALS[kind]
    with ScriptedServer("127.0.0.1") as other:
        other.routes[PAGE_PATH] = page_reply(wheel_link(other.url))
        other.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = redirect(f"{other.url}{PAGE_PATH}", 307)
        with proxy_of(settings, upstream.url, **config) as client:
            assert client.get(file_url(client)).content == WHEEL_BYTES
        assert [r.authorization for r in upstream.requests] == [header]
        assert [r.authorization for r in other.requests] == [None, None]


def test_redirect_to_a_named_file_host_keeps_the_credentials(
    settings: Settings, upstream: ScriptedServer
) -> None:
    with ScriptedServer("127.0.0.2") as files:
        files.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(upstream.url))
        upstream.routes[f"/files/{WHEEL}"] = redirect(f"{files.url}/files/{WHEEL}")
        config = {"username": USER, "password": PASSWORD, "file_hosts": [files.netloc]}
        with proxy_of(settings, upstream.url, **config) as client:
            assert client.get(file_url(client)).content == WHEEL_BYTES
        assert [r.authorization for r in files.requests] == [BASIC]


def test_a_name_that_resolves_to_loopback_is_refused(
    settings: Settings, upstream: ScriptedServer
) -> None:
    """``localhost`` is resolved and its addresses checked: the name is not the upstream's
    own (127.0.0.1), and loopback is not public."""
    with ScriptedServer("127.0.0.1") as other:
        other.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(f"http://localhost:{other.port}"))
        with proxy_of(settings, upstream.url) as client:
            response = client.get(file_url(client))
            assert response.status_code == 502
            assert f"localhost:{other.port}" in response.text
            assert "loopback address" in response.text
        assert other.connections == 0


def test_file_hosts_only_refuses_every_other_host(
    settings: Settings, upstream: ScriptedServer
) -> None:
    with ScriptedServer("127.0.0.2") as named, ScriptedServer("127.0.0.3") as unnamed:
        named.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(unnamed.url))
        config = {"file_hosts": [named.netloc], "file_hosts_only": True}
        with proxy_of(settings, upstream.url, **config) as client:
            response = client.get(file_url(client))
            assert response.status_code == 502
            assert unnamed.netloc in response.text
            assert "file_hosts_only" in response.text
        assert unnamed.connections == 0


def test_metadata_links_follow_the_same_rules(settings: Settings, upstream: ScriptedServer) -> None:
    with ScriptedServer("127.0.0.2") as listener:
        link = wheel_link(listener.url)
        upstream.routes[PAGE_PATH] = page_reply(
            type(link)(link.filename, link.url, link.sha256, metadata=True)
        )
        with proxy_of(settings, upstream.url, username=USER, password=PASSWORD) as client:
            response = client.get(file_url(client) + ".metadata")
            assert response.status_code == 502
            assert listener.netloc in response.text
        assert listener.connections == 0


def test_client_certificate_is_shown_to_the_upstreams_origin_only(
    tmp_path: Path, settings: Settings
) -> None:
    ca = CertificateAuthority.create(tmp_path / "pki")
    server, client_pair = ca.issue_server(), ca.issue_client("mirror")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server.cert, server.key)
    context.load_verify_locations(ca.cert)
    context.verify_mode = ssl.CERT_OPTIONAL
    with (
        ScriptedServer("127.0.0.1", tls=context) as secure,
        ScriptedServer("127.0.0.1", tls=context) as other,
    ):
        other.routes[f"/files/{WHEEL}"] = wheel_reply()
        secure.routes[PAGE_PATH] = page_reply(wheel_link(other.url))
        config = {
            "ca_bundle": str(ca.cert),
            "client_cert": str(client_pair.cert),
            "client_key": str(client_pair.key),
        }
        with proxy_of(settings, secure.url, **config) as client:
            assert client.get(file_url(client)).content == WHEEL_BYTES
        assert [r.client_certificate for r in secure.requests] == [True]
        assert [r.client_certificate for r in other.requests] == [False]


def test_file_hosts_set_through_the_admin_api(settings: Settings, upstream: ScriptedServer) -> None:
    runtime = open_runtime(settings)
    try:
        runtime.auth.add_user("admin", "admin-password-3", is_admin=True)
    finally:
        runtime.close()
    admin = basic_auth("admin", "admin-password-3")
    with ScriptedServer("127.0.0.2") as listener:
        listener.routes[f"/files/{WHEEL}"] = wheel_reply()
        upstream.routes[PAGE_PATH] = page_reply(wheel_link(listener.url))
        with TestClient(create_app(settings)) as client:
            proxy = {"url": f"{upstream.url}/simple/"}
            body: dict[str, Any] = {"name": "up", "kind": "proxy", "upstream": proxy}
            bad = {**body, "upstream": {**proxy, "file_hosts": ["http://x/"]}}
            assert client.post("/api/indexes", json=bad, headers=admin).status_code == 400
            assert client.post("/api/indexes", json=body, headers=admin).status_code == 201
            url = file_url(client)
            assert client.get(url).status_code == 502
            change = {"upstream": {"file_hosts": [listener.netloc]}}
            assert client.patch("/api/indexes/up", json=change, headers=admin).status_code == 200
            assert client.get(url).content == WHEEL_BYTES
