"""Driving a server of several worker processes: a fresh connection per request (so requests
spread over the workers), "every worker answers so" checks, and users and indexes made with
the command line, a process of its own.

Requests can name the client address they come from (``X-Forwarded-For``, honoured when the
server trusts 127.0.0.1 as a proxy), so that each test has addresses of its own for the
brute-force guard."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth

DEADLINE = 4.0  # seconds: the poll interval (1 s) with room for a loaded machine
REQUESTS = 24  # fresh connections per check, so that every worker is asked
ADMIN_PASSWORD = "admin-password-e2e"  # a test server's administrator
TRUSTING = {"trusted_proxies": "127.0.0.1", "admin_password": ADMIN_PASSWORD}

Check = Callable[[httpx.Client], bool]


def fresh(server: StiltonServer, address: str | None = None) -> httpx.Client:
    """A client that opens a new connection for every request (spread over the workers),
    coming from ``address`` when given."""
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.Client(
        base_url=server.url,
        trust_env=False,
        headers=headers,
        timeout=60.0,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def healthy(server: StiltonServer) -> bool:
    with fresh(server) as client:
        return client.get("/-/health").status_code == 200


def everywhere(server: StiltonServer, check: Check, address: str | None = None) -> bool:
    with fresh(server, address) as client:
        return all(check(client) for _ in range(REQUESTS))


def soon_everywhere(server: StiltonServer, check: Check, address: str | None = None) -> None:
    """Within DEADLINE, ``check`` holds for REQUESTS requests in a row; the server answers its
    health probe all along."""
    deadline = time.monotonic() + DEADLINE
    while not everywhere(server, check, address):
        assert healthy(server)
        assert time.monotonic() < deadline, "a worker still answers as before the change"
        time.sleep(0.1)
    assert healthy(server)


def add_user(server: StiltonServer, username: str, password: str, *groups: str) -> None:
    options = [f"--group={group}" for group in groups]
    server.cli("user", "add", username, *options, "--password-stdin", stdin=password + "\n")


def private_index(server: StiltonServer, name: str, *readers: str) -> None:
    server.create_index(name)
    server.cli("index", "permissions", name, *[f"--read={r}" for r in readers])


def admin_api(server: StiltonServer, path: str) -> httpx.Response:
    """An admin API GET, from 127.0.0.1 itself (an address no test guesses from)."""
    with fresh(server) as client:
        response = client.get(f"/api{path}", headers=basic_auth("admin", ADMIN_PASSWORD))
    assert response.status_code == 200, response.text
    return response


def failed_logins(server: StiltonServer, address: str) -> int:
    """Failed credential checks from ``address`` in the audit log (each one ran argon2)."""
    entries = admin_api(server, "/audit?limit=1000").json()
    return sum(1 for e in entries if e["action"] == "failed login" and e["address"] == address)
