"""How a proxy index reaches its upstream repository: URL, page format, freshness, credentials,
TLS, timeouts and limits, and which hosts it may reach. Credentials never appear in a repr, a log
line or a page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from stilton.core.addresses import AddressKind, first_unreachable
from stilton.core.errors import InvalidInput, UpstreamError, UpstreamTimeout


class UpstreamFormat(StrEnum):
    SIMPLE = "simple"  # a PEP 503/691 repository: <url>/<project>/
    FIND_LINKS = "find-links"  # one HTML page of links to every file


DEFAULT_TTL = 600  # seconds a fetched project page is used before it is revalidated
# The biggest public project pages are ~4 MB of HTML; a page or document (metadata, JSON API)
# decoded beyond this is refused, so a compressed bomb cannot exhaust memory.
DEFAULT_MAX_PAGE_SIZE = 64 * 2**20
DEFAULT_REQUEST_DEADLINE = 60.0  # seconds for a whole page, metadata, range or JSON request
# A file download is abandoned when fewer than this many bytes arrive in a window of seconds:
# about 2 KiB/s, so a large wheel on a slow link still arrives while a stalled one does not.
DEFAULT_DOWNLOAD_MIN_BYTES = 64 * 1024
DEFAULT_DOWNLOAD_WINDOW = 30.0
DEFAULT_PORTS = {"http": 80, "https": 443}
Number = TypeVar("Number", int, float)


@dataclass(frozen=True, slots=True)
class HostPattern:
    """A host the operator names: ``host`` (any port) or ``host:port``; IPv6 in brackets."""

    host: str  # lowercase, IDNA-encoded, IPv6 without brackets
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        raw = text.strip()
        if not raw or any(c in raw for c in "/@?# \t"):
            raise InvalidInput(f"A file host is a host or host:port, not {raw!r}.")
        host, port = _split_port(raw)
        host = ascii_host(host)
        if not host.isascii():
            raise InvalidInput(f"The file host {raw!r} is not a valid host name.")
        if not host:
            raise InvalidInput(f"The file host {raw!r} has no host name.")
        return cls(host, port)

    def matches(self, host: str, port: int) -> bool:
        return ascii_host(host) == self.host and self.port in (None, port)

    def __str__(self) -> str:
        return format_host(self.host, self.port)


def _split_port(raw: str) -> tuple[str, int | None]:
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port is None:
            raise InvalidInput(f"A file host is a host or host:port, not {raw!r}.")
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    else:
        host, port = raw, None  # a name, an IPv4 address or a bare IPv6 address
    if port is None:
        return host, None
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise InvalidInput(f"The file host {raw!r} has an invalid port.")
    return host, int(port)


def ascii_host(host: str) -> str:
    """A host name as it goes on the wire (IDNA, lowercase, no final dot), for comparing;
    returned unchanged where it cannot be encoded."""
    host = host.rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def format_host(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


@dataclass(frozen=True, slots=True)
class Origin:
    """RFC 6454: scheme, host and port; credentials are bound to one."""

    scheme: str
    host: str
    port: int


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL, or None for any other URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return Origin(scheme, ascii_host(parts.hostname), port or DEFAULT_PORTS[scheme])


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
    # Hosts besides the upstream's own that serve its files: reachable whatever their
    # addresses, and given the upstream's credentials. Other hosts are reached without
    # credentials and only at public addresses, or not at all with file_hosts_only.
    file_hosts: tuple[HostPattern, ...] = ()
    file_hosts_only: bool = False
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE  # bytes, decoded
    request_deadline: float = DEFAULT_REQUEST_DEADLINE  # seconds
    download_min_bytes: int = DEFAULT_DOWNLOAD_MIN_BYTES
    download_window: float = DEFAULT_DOWNLOAD_WINDOW  # seconds

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
            file_hosts=parse_file_hosts(values.get("file_hosts")),
            file_hosts_only=bool(values.get("file_hosts_only", False)),
            max_page_size=_number(values, "max_page_size", int, DEFAULT_MAX_PAGE_SIZE),
            request_deadline=_number(values, "request_deadline", float, DEFAULT_REQUEST_DEADLINE),
            download_min_bytes=_number(
                values, "download_min_bytes", int, DEFAULT_DOWNLOAD_MIN_BYTES
            ),
            download_window=_number(values, "download_window", float, DEFAULT_DOWNLOAD_WINDOW),
        )
        config.check_limits()
        return config

    def check_limits(self) -> None:
        if self.ttl < 0:
            raise InvalidInput("The upstream TTL cannot be negative.")
        if self.max_page_size <= 0 or self.download_min_bytes < 0:
            raise InvalidInput("max_page_size must be positive, download_min_bytes not negative.")
        if not (self.request_deadline > 0 and self.download_window > 0):  # NaN is refused too
            raise InvalidInput("request_deadline and download_window must be positive seconds.")

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
            "file_hosts": [str(host) for host in self.file_hosts] or None,
            "file_hosts_only": self.file_hosts_only or None,
            "max_page_size": self.max_page_size,
            "request_deadline": self.request_deadline,
            "download_min_bytes": self.download_min_bytes,
            "download_window": self.download_window,
        }
        return {key: value for key, value in values.items() if value is not None}

    def with_changes(self, **changes: Any) -> UpstreamConfig:
        return replace(self, **changes)

    def describe(self) -> str:
        """A line for people: the URL without secrets, and whether credentials are set."""
        auth = " (with credentials)" if self.username or self.token else ""
        mode = ", offline" if self.offline else ""
        if self.file_hosts or self.file_hosts_only:
            only = " only" if self.file_hosts_only else ""
            mode += f", file hosts{only}: {', '.join(map(str, self.file_hosts)) or 'none'}"
        return f"{redact_url(self.url)} [{self.format.value}, ttl {self.ttl:g}s{mode}]{auth}"

    # -- which hosts may be reached, and which get credentials -------------------------------

    @property
    def origin(self) -> Origin:
        origin = origin_of(self.url)
        assert origin is not None  # the URL was checked when the configuration was parsed
        return origin

    def names_host(self, host: str, port: int) -> bool:
        """The upstream's own host (on any port) and the file hosts are named by the operator."""
        return ascii_host(host) == self.origin.host or any(
            p.matches(host, port) for p in self.file_hosts
        )

    def sends_credentials_to(self, url: str) -> bool:
        """Credentials go to the upstream's origin, and to its file hosts unless that would
        downgrade them from https to plain http."""
        target = origin_of(url)
        if target is None:
            return False
        if target == self.origin:
            return True
        secure_enough = target.scheme == "https" or self.origin.scheme == "http"
        return secure_enough and any(p.matches(target.host, target.port) for p in self.file_hosts)

    def check_host(self, host: str, port: int, addresses: list[str]) -> None:
        """Raise ``HostRefused`` unless a connection to ``host`` (resolved to ``addresses``) is
        allowed: named hosts always are; others only when every address is reachable (public, or
        a documentation or benchmarking stand-in for one)."""
        if self.names_host(host, port):
            return
        if self.file_hosts_only:
            raise HostRefused(format_host(host, port))
        refused = first_unreachable(addresses)
        if refused is not None:
            raise HostRefused(format_host(host, port), *refused)


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _number(values: dict[str, Any], key: str, kind: type[Number], default: Number) -> Number:
    try:
        return kind(values.get(key, default))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The upstream option {key} must be a number.") from exc


def parse_file_hosts(value: Any) -> tuple[HostPattern, ...]:
    """A list of hosts, or one comma-separated string of them (the CLI's form)."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidInput("file_hosts is a list of host or host:port strings.")
    return tuple(HostPattern.parse(item) for item in items if item.strip())


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


# -- refusals ----------------------------------------------------------------------------------


class HostRefused(UpstreamError):
    """A link or redirect leads to a host the proxy may not reach (HTTP 502)."""

    def __init__(
        self,
        host: str,
        address: str | None = None,
        kind: AddressKind | None = None,
        url: str | None = None,
    ) -> None:
        self.host = host  # host:port as shown to people
        self.address = address
        self.kind = kind
        self.url = url
        what = f"{redact_url(url)} from {host}" if url else host
        if address is None or kind is None:
            why = "only the upstream's own host and its file hosts may be reached"
            why += " (file_hosts_only is set)"
        else:
            why = f"it resolves to {address}, {kind.describe()}, and is not a named file host"
        super().__init__(
            f"Refused to fetch {what}: {why}. If you trust that host, name it in the proxy's"
            f" upstream option file_hosts (stilton index set INDEX --file-hosts {host})."
        )

    def at(self, url: str) -> HostRefused:
        """The same refusal, saying which URL led there."""
        return HostRefused(self.host, self.address, self.kind, url)


class PageTooLarge(UpstreamError):
    """An upstream page or document is bigger, once decoded, than the proxy accepts (502)."""

    def __init__(self, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        super().__init__(
            f"The upstream's response for {redact_url(url)} is larger than {limit} bytes once"
            " decoded, so it was refused; the proxy's upstream option max_page_size"
            " (--max-page-size) sets the limit."
        )


class DeadlinePassed(UpstreamTimeout):
    """An upstream request did not finish within the request deadline (504)."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        super().__init__(
            f"The upstream did not finish answering {redact_url(url)} within {seconds:g} s"
            " (the proxy's upstream option request_deadline, --request-deadline)."
        )


class DownloadTooSlow(UpstreamTimeout):
    """A file download fell below the minimum rate (504)."""

    def __init__(self, url: str, received: int, min_bytes: int, window: float) -> None:
        self.url = url
        self.received = received
        self.min_bytes = min_bytes
        self.window = window
        super().__init__(
            f"The upstream sent only {received} bytes of {redact_url(url)} in {window:g} s, less"
            f" than the minimum of {min_bytes} bytes per {window:g} s (the proxy's upstream"
            " options download_min_bytes and download_window); the download was abandoned."
        )
