"""Honour ``X-Forwarded-For/-Proto/-Host`` only from configured reverse proxies, so the client
address (for the audit log and the brute-force guard), the scheme and the host of absolute URLs
are the real ones; from anyone else the headers are ignored."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CLIENT_CERT_SUBJECT = "stilton.client_cert_subject"  # scope key, set only for trusted proxies


def parse_trusted(raw: str) -> list[Network]:
    """Comma-separated addresses or CIDR networks."""
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
    ]


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, trusted: list[Network], cert_header: str = "") -> None:
        self.app = app
        self.trusted = trusted
        self.cert_header = cert_header.lower()

    @property
    def state(self) -> object:
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and _trusted(client[0], self.trusted):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scope = dict(scope)
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        # The nearest address not of a trusted proxy is the client's.
        for hop in reversed(hops):
            if not _trusted(hop, self.trusted):
                scope["client"] = (hop, 0)
                break
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
        subject = headers.get(self.cert_header, "").strip() if self.cert_header else ""
        if subject:
            scope[CLIENT_CERT_SUBJECT] = subject
        host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        if host:
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"] + [
                (b"host", host.encode("latin-1"))
            ]
        return scope
