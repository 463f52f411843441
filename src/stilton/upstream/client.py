"""The one seam between Stilton and upstream repositories.

All network I/O to an upstream goes through ``UpstreamClient``; httpx's exceptions are
translated here, once, into ``UpstreamError`` / ``UpstreamTimeout``, and every URL in a message
is redacted. Here too: credentials go only where ``UpstreamConfig.sends_credentials_to`` says
(a second client without any fetches the rest; redirects are followed hop by hop, each judged
anew); every connection goes to addresses resolved once and checked
(``upstream/pinned.py``); pages are decoded under ``max_page_size``;
requests end at ``request_deadline``; downloads must keep a minimum rate.
"""

from __future__ import annotations

import ssl
import zlib
from collections import abc
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio
import httpx

from stilton import __version__
from stilton.core.errors import UpstreamError, UpstreamTimeout
from stilton.core.telemetry import UNWATCHED, UpstreamWatch
from stilton.core.upstream import (
    DeadlinePassed,
    DownloadTooSlow,
    HostRefused,
    PageTooLarge,
    UpstreamConfig,
    origin_of,
    redact_url,
)
from stilton.upstream.pinned import PinnedBackend, PinnedTransport, Resolver, resolve_host

# Ask for PEP 691 JSON first; accept HTML from intermediaries that ignore Accept.
PAGE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2,"
    " text/html;q=0.01"
)
USER_AGENT = f"stilton/{__version__}"
DECODED_ENCODINGS = "gzip, deflate"  # what pages and documents may be compressed with
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


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


def _count(value: str) -> int | None:
    """A non-negative header number that fits a database integer, else None."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value)


class BearerAuth(httpx.Auth):
    """A Bearer token, set by the credentialed client only (never as a default header)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(
        self, request: httpx.Request
    ) -> abc.Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class CappedDecoder:
    """Undoes a Content-Encoding step by step, refusing output beyond ``limit`` bytes: zlib is
    never asked for more than one byte past the limit, so a compressed bomb stops there."""

    def __init__(self, encoding: str, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.received = 0  # bytes on the wire
        self.size = 0  # bytes decoded
        name = encoding.strip().lower()
        if name not in ("", "identity", *WBITS):
            raise UpstreamError(
                f"The upstream sent {redact_url(url)} with Content-Encoding {encoding!r},"
                f" which Stilton does not ask for ({DECODED_ENCODINGS} only)."
            )
        self._zlib = zlib.decompressobj(WBITS[name]) if name in WBITS else None

    def decode(self, data: bytes) -> bytes:
        self.received += len(data)
        if self.received > self.limit:
            raise PageTooLarge(self.url, self.limit)
        if self._zlib is not None:
            if self._zlib.eof:
                return b""  # bytes after the end of the compressed stream are ignored
            try:
                data = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise UpstreamError(
                    f"The upstream's compressed response for {redact_url(self.url)} is corrupt."
                ) from exc
        self.size += len(data)
        if self.size > self.limit:
            raise PageTooLarge(self.url, self.limit)
        return data

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise UpstreamError(
                f"The upstream's compressed response for {redact_url(self.url)} ended early."
            )


class UpstreamClient:
    def __init__(
        self,
        config: UpstreamConfig,
        *,
        resolve: Resolver = resolve_host,
        watch: UpstreamWatch = UNWATCHED,
    ) -> None:
        self.config = config
        self.watch = watch  # hears every request; may refuse one (an unhealthy upstream)
        backend = PinnedBackend(config.check_host, resolve)
        self._trusted = self._client(backend, self._auth(), self._tls(with_cert=True))
        self._anonymous = self._client(backend, None, self._tls(with_cert=False))

    def _client(
        self, backend: PinnedBackend, auth: httpx.Auth | None, context: ssl.SSLContext
    ) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        return httpx.AsyncClient(
            auth=auth,
            timeout=httpx.Timeout(
                self.config.read_timeout,
                connect=self.config.connect_timeout,
                pool=self.config.connect_timeout,
            ),
            follow_redirects=False,  # followed by ``_send``, each hop judged on its own
            headers={"User-Agent": USER_AGENT},
            transport=PinnedTransport(backend, context, limits),
            trust_env=False,
        )

    def _auth(self) -> httpx.Auth | None:
        if self.config.username is not None:
            return httpx.BasicAuth(self.config.username, self.config.password or "")
        if self.config.token:
            return BearerAuth(self.config.token)
        return None

    def _tls(self, *, with_cert: bool) -> ssl.SSLContext:
        """The system's trust store (where a corporate TLS-inspecting proxy's CA lives), or the
        index's own CA bundle; and the client certificate, for the credentialed client only."""
        try:
            context = ssl.create_default_context(cafile=self.config.ca_bundle)
            if with_cert and self.config.client_cert:
                context.load_cert_chain(self.config.client_cert, self.config.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(f"The upstream's TLS settings cannot be loaded: {exc}") from exc
        return context

    async def aclose(self) -> None:
        await self._trusted.aclose()
        await self._anonymous.aclose()

    def project_url(self, project: str) -> str:
        return f"{self.config.url}{project}/"

    async def fetch_page(self, url: str, validators: Validators | None) -> PageResponse:
        """A project page (or a find-links page): 200, 304 when unchanged, or 404."""
        headers = {"Accept": PAGE_ACCEPT, "Accept-Encoding": DECODED_ENCODINGS}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        with self._deadline(url):
            response = await self._send("GET", url, headers)
            try:
                if response.status_code in (304, 404, 410):
                    return PageResponse(304 if response.status_code == 304 else 404)
                self._require_ok(response, url)
                body = await self._read(response, url, self.config.max_page_size)
            finally:
                await response.aclose()
        return PageResponse(
            status=200,
            body=body,
            content_type=response.headers.get("content-type", ""),
            url=str(response.url),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            serial=_count(response.headers.get("x-pypi-last-serial", "")),
        )

    async def fetch_bytes(self, url: str, *, max_size: int | None = None) -> bytes | None:
        """A small document (metadata, JSON), decoded and at most ``max_size`` bytes (default:
        the upstream's ``max_page_size``); None when the upstream has no such thing."""
        with self._deadline(url):
            response = await self._send("GET", url, {"Accept-Encoding": DECODED_ENCODINGS})
            try:
                if response.status_code in (404, 410):
                    return None
                self._require_ok(response, url)
                return await self._read(response, url, max_size or self.config.max_page_size)
            finally:
                await response.aclose()

    async def fetch_range(self, url: str, start: int, end: int) -> bytes | None:
        """Bytes ``start``..``end`` inclusive, or None where ranges are not supported."""
        headers = {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        with self._deadline(url):
            response = await self._send("GET", url, headers)
            try:
                usable = response.status_code == 206 and response.headers.get(
                    "content-range", ""
                ).startswith(f"bytes {start}-")
                if not usable or response.headers.get("content-encoding", "identity") != "identity":
                    return None
                data = await self._read(response, url, end - start + 1)
            except PageTooLarge:
                return None  # more than was asked for: not a usable range
            finally:
                await response.aclose()
        return data

    async def fetch_size(self, url: str) -> tuple[int | None, bool]:
        """The size of a file and whether the upstream says it serves ranges (HEAD)."""
        with self._deadline(url):
            response = await self._send("HEAD", url, {"Accept-Encoding": "identity"})
            await response.aclose()
        if response.status_code != 200:
            return None, False
        ranges = response.headers.get("accept-ranges", "").lower() == "bytes"
        return _count(response.headers.get("content-length", "")), ranges

    @asynccontextmanager
    async def stream(
        self, url: str, *, missing_ok: bool = False
    ) -> abc.AsyncIterator[httpx.Response | None]:
        """A streaming GET of a file; the body is read with ``chunks``. The deadline covers
        the response's headers; the body only has to keep the minimum rate."""
        with self._deadline(url):
            response = await self._send("GET", url, {"Accept-Encoding": "identity"})
        try:
            if missing_ok and response.status_code in (404, 410):
                yield None
                return
            self._require_ok(response, url)
            yield response
        finally:
            await response.aclose()

    async def chunks(self, response: httpx.Response, url: str) -> abc.AsyncIterator[bytes]:
        """The raw body, abandoned when fewer than ``download_min_bytes`` arrive in any
        ``download_window`` seconds (a total deadline would cut off large files)."""
        window, minimum = self.config.download_window, self.config.download_min_bytes
        raw = aiter(self._raw(response, url))
        started, received = anyio.current_time(), 0
        while True:
            try:
                if received >= minimum:
                    # This window has its bytes: no deadline (a cancel scope per chunk costs
                    # as much as the rest of passing the chunk on).
                    chunk = await anext(raw)
                else:
                    with anyio.fail_after(max(started + window - anyio.current_time(), 0.0)):
                        chunk = await anext(raw)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise DownloadTooSlow(url, received, minimum, window) from None
            received += len(chunk)
            if anyio.current_time() - started >= window:
                started, received = anyio.current_time(), 0
            yield chunk

    async def _raw(self, response: httpx.Response, url: str) -> abc.AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():  # as they arrive: rates are measured
                self.watch.received(len(chunk))
                yield chunk
        except httpx.HTTPError as exc:
            raise self._failure(exc, url) from exc

    async def _read(self, response: httpx.Response, url: str, limit: int) -> bytes:
        """The decoded body, refused as soon as it passes ``limit`` bytes."""
        declared = _count(response.headers.get("content-length", ""))
        if declared is not None and declared > limit:
            raise PageTooLarge(url, limit)
        decoder = CappedDecoder(response.headers.get("content-encoding", ""), url, limit)
        body = bytearray()
        async for chunk in self._raw(response, url):
            body += decoder.decode(chunk)
        decoder.finish()
        return bytes(body)

    @contextmanager
    def _deadline(self, url: str) -> abc.Iterator[None]:
        try:
            with anyio.fail_after(self.config.request_deadline):
                yield
        except TimeoutError as exc:
            error = DeadlinePassed(url, self.config.request_deadline)
            self.watch.failed(url, error)
            raise error from exc

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        """One request, following redirects here so that every hop is checked on its own: a
        hop's credentials depend on its origin, its connection on its addresses."""
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._send_once(method, url, headers)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return response
            await response.aclose()
            try:
                url = str(response.url.join(location))
            except httpx.InvalidURL as exc:
                raise UpstreamError(
                    f"The upstream redirected {redact_url(url)} to an invalid URL."
                ) from exc
        raise UpstreamError(
            f"The upstream redirected more than {MAX_REDIRECTS} times, last to {redact_url(url)}."
        )

    async def _send_once(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        if origin_of(url) is None:
            raise UpstreamError(f"Refused to fetch {redact_url(url)}: not an http(s) URL.")
        client = self._trusted if self.config.sends_credentials_to(url) else self._anonymous
        self.watch.admit(url)
        try:
            request = client.build_request(method, url, headers=headers)
            response = await client.send(request, stream=True)
        except HostRefused as exc:
            refused = exc.at(url)
            self.watch.failed(url, refused)
            raise refused from None
        except httpx.InvalidURL as exc:
            raise UpstreamError(f"The upstream linked an invalid URL, {redact_url(url)}.") from exc
        except httpx.HTTPError as exc:
            raise self._failure(exc, url) from exc
        self.watch.answered(url, response.status_code)
        return response

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

    def _failure(self, exc: httpx.HTTPError, url: str) -> UpstreamError:
        error = self._translate(exc, url)
        self.watch.failed(url, error)
        return error

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
