"""The one seam between Stilton and upstream repositories.

All network I/O to an upstream goes through ``UpstreamClient``; httpx's exceptions are
translated here, once, into ``UpstreamError`` / ``UpstreamTimeout``, and every URL in a message
is redacted.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from stilton import __version__
from stilton.core.errors import UpstreamError, UpstreamTimeout
from stilton.core.upstream import UpstreamConfig, redact_url

# Ask for PEP 691 JSON first; accept HTML from intermediaries that ignore Accept.
PAGE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2,"
    " text/html;q=0.01"
)
USER_AGENT = f"stilton/{__version__}"


@dataclass(frozen=True, slots=True)
class Validators:
    """What the upstream said about the copy we hold, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class PageResponse:
    status: int  # 200, 304 or 404
    body: bytes = b""
    content_type: str = ""
    url: str = ""  # the final URL after redirects: relative links resolve against it
    etag: str | None = None
    last_modified: str | None = None
    serial: int | None = None


def _serial(headers: httpx.Headers) -> int | None:
    value = headers.get("x-pypi-last-serial", "")
    return int(value) if value.isdigit() else None


class UpstreamClient:
    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self._client = httpx.AsyncClient(
            auth=self._auth(),
            verify=self._verify(),
            timeout=httpx.Timeout(
                config.read_timeout, connect=config.connect_timeout, pool=config.connect_timeout
            ),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            trust_env=False,
        )

    def _auth(self) -> httpx.Auth | None:
        if self.config.username is not None:
            return httpx.BasicAuth(self.config.username, self.config.password or "")
        return None

    def _verify(self) -> ssl.SSLContext:
        """The system's trust store (where a corporate TLS-inspecting proxy's CA lives), or the
        index's own CA bundle; and the client certificate, if the upstream wants one."""
        try:
            context = ssl.create_default_context(cafile=self.config.ca_bundle)
            if self.config.client_cert:
                context.load_cert_chain(self.config.client_cert, self.config.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(f"The upstream's TLS settings cannot be loaded: {exc}") from exc
        return context

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        return headers

    async def aclose(self) -> None:
        await self._client.aclose()

    def project_url(self, project: str) -> str:
        return f"{self.config.url}{project}/"

    async def fetch_page(self, url: str, validators: Validators | None) -> PageResponse:
        """A project page (or a find-links page): 200, 304 when unchanged, or 404."""
        headers = {"Accept": PAGE_ACCEPT}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        response = await self._request("GET", url, headers)
        if response.status_code in (304, 404, 410):
            return PageResponse(404 if response.status_code == 410 else response.status_code)
        self._require_ok(response, url)
        return PageResponse(
            status=200,
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            url=str(response.url),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            serial=_serial(response.headers),
        )

    async def fetch_bytes(self, url: str, *, max_size: int = 16 * 2**20) -> bytes | None:
        """A small document (metadata, JSON); None when the upstream has no such thing."""
        async with self.stream(url, missing_ok=True) as response:
            if response is None:
                return None
            data = bytearray()
            async for chunk in self.chunks(response, url):
                data.extend(chunk)
                if len(data) > max_size:
                    raise UpstreamError(f"{redact_url(url)} is larger than {max_size} bytes.")
            return bytes(data)

    async def fetch_range(self, url: str, start: int, end: int) -> bytes | None:
        """Bytes ``start``..``end`` inclusive, or None where ranges are not supported."""
        response = await self._request(
            "GET", url, {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        )
        if response.status_code != 206:
            return None
        content_range = response.headers.get("content-range", "")
        if not content_range.startswith(f"bytes {start}-"):
            return None
        return response.content

    async def fetch_size(self, url: str) -> tuple[int | None, bool]:
        """The size of a file and whether the upstream says it serves ranges (HEAD)."""
        response = await self._request("HEAD", url, {"Accept-Encoding": "identity"})
        if response.status_code != 200:
            return None, False
        length = response.headers.get("content-length", "")
        ranges = response.headers.get("accept-ranges", "").lower() == "bytes"
        return (int(length) if length.isdigit() else None), ranges

    @asynccontextmanager
    async def stream(
        self, url: str, *, missing_ok: bool = False
    ) -> AsyncIterator[httpx.Response | None]:
        """A streaming GET; the body is read with ``chunks``."""
        request = self._client.build_request(
            "GET", url, headers=self._headers({"Accept-Encoding": "identity"})
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._translate(exc, url) from exc
        try:
            if missing_ok and response.status_code in (404, 410):
                yield None
                return
            self._require_ok(response, url)
            yield response
        finally:
            await response.aclose()

    async def chunks(self, response: httpx.Response, url: str) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw(256 * 1024):
                yield chunk
        except httpx.HTTPError as exc:
            raise self._translate(exc, url) from exc

    async def _request(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        try:
            return await self._client.request(method, url, headers=self._headers(headers))
        except httpx.HTTPError as exc:
            raise self._translate(exc, url) from exc

    def _require_ok(self, response: httpx.Response, url: str) -> None:
        if response.status_code in (401, 403):
            raise UpstreamError(
                f"The upstream refused access to {redact_url(url)} ({response.status_code});"
                " check the proxy index's upstream credentials."
            )
        if response.status_code != 200:
            raise UpstreamError(
                f"The upstream answered {response.status_code} for {redact_url(url)}."
            )

    def _translate(self, exc: httpx.HTTPError, url: str) -> UpstreamError:
        where = redact_url(url)
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeout(f"The upstream did not answer in time for {where}.")
        reason = f"{type(exc).__name__}: {self._redact(str(exc))}".rstrip(": ")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return UpstreamError(
                f"The upstream connection broke while fetching {where} ({reason})."
            )
        return UpstreamError(f"Could not reach the upstream for {where} ({reason}).")

    def _redact(self, text: str) -> str:
        for secret in (self.config.password, self.config.token):
            if secret:
                text = text.replace(secret, "***")
        return text
