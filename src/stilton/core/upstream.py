"""How a proxy index reaches its upstream repository: URL, page format, freshness, credentials,
TLS and timeouts. Credentials never appear in a repr, a log line or a page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from stilton.core.errors import InvalidInput


class UpstreamFormat(StrEnum):
    SIMPLE = "simple"  # a PEP 503/691 repository: <url>/<project>/
    FIND_LINKS = "find-links"  # one HTML page of links to every file


DEFAULT_TTL = 600  # seconds a fetched project page is used before it is revalidated


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    url: str
    format: UpstreamFormat = UpstreamFormat.SIMPLE
    ttl: float = DEFAULT_TTL
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)  # sent as a Bearer token
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    offline: bool = False
    cache_max_bytes: int | None = None  # LRU eviction of cached files beyond this

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> UpstreamConfig:
        url = str(values.get("url") or "")
        username, password, url = split_credentials(url)
        config = cls(
            url=normalize_upstream_url(url, UpstreamFormat(values.get("format", "simple"))),
            format=UpstreamFormat(values.get("format", "simple")),
            ttl=float(values.get("ttl", DEFAULT_TTL)),
            username=values.get("username") or username,
            password=values.get("password") or password,
            token=values.get("token"),
            ca_bundle=values.get("ca_bundle"),
            client_cert=values.get("client_cert"),
            client_key=values.get("client_key"),
            connect_timeout=float(values.get("connect_timeout", 10.0)),
            read_timeout=float(values.get("read_timeout", 30.0)),
            offline=bool(values.get("offline", False)),
            cache_max_bytes=_optional_int(values.get("cache_max_bytes")),
        )
        if config.ttl < 0:
            raise InvalidInput("The upstream TTL cannot be negative.")
        return config

    def to_mapping(self) -> dict[str, Any]:
        values = {
            "url": self.url,
            "format": self.format.value,
            "ttl": self.ttl,
            "username": self.username,
            "password": self.password,
            "token": self.token,
            "ca_bundle": self.ca_bundle,
            "client_cert": self.client_cert,
            "client_key": self.client_key,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "offline": self.offline,
            "cache_max_bytes": self.cache_max_bytes,
        }
        return {key: value for key, value in values.items() if value is not None}

    def with_changes(self, **changes: Any) -> UpstreamConfig:
        return replace(self, **changes)

    def describe(self) -> str:
        """A line for people: the URL without secrets, and whether credentials are set."""
        auth = " (with credentials)" if self.username or self.token else ""
        mode = ", offline" if self.offline else ""
        return f"{redact_url(self.url)} [{self.format.value}, ttl {self.ttl:g}s{mode}]{auth}"


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _parse(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(
            f"The upstream URL must be an http or https URL, not {redact_url(url)!r}."
        )
    return parts


def split_credentials(url: str) -> tuple[str | None, str | None, str]:
    """Credentials written into a URL are taken out of it and kept apart."""
    parts = _parse(url)
    if parts.username is None and parts.password is None:
        return None, None, url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return parts.username, parts.password, clean


def normalize_upstream_url(url: str, fmt: UpstreamFormat) -> str:
    parts = _parse(url)
    if fmt is UpstreamFormat.SIMPLE and not parts.path.endswith("/"):
        return urlunsplit(parts._replace(path=parts.path + "/"))
    return url


def redact_url(url: str) -> str:
    """The URL with any user information replaced, safe for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = "***@" + (parts.hostname or "")
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
