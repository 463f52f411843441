"""The hot path's front door: a cache hit for a public project page or a stored file is answered
straight from memory (or by the server from the file's path), before any routing, request
object or middleware. Everything else, every miss included, goes to the full app.
"""

from __future__ import annotations

from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stilton.core.errors import NotAcceptable
from stilton.core.negotiation import SimpleFormat, select_format
from stilton.core.urls import METADATA_SUFFIX
from stilton.storage.blobs import SendPath
from stilton.web.files import IMMUTABLE, OCTET_STREAM
from stilton.web.simple import SERIAL_HEADER, accepts_gzip, etag_matches
from stilton.web.state import BuiltIndex, RenderedPage, WebState

_SKIP_FILE_HEADERS = (b"range", b"if-range", b"authorization")


@lru_cache(maxsize=256)
def _format(accept: str) -> SimpleFormat | None:
    try:
        return select_format(accept or None)
    except NotAcceptable:
        return None


class FastPath:
    def __init__(self, app: ASGIApp, web: WebState) -> None:
        self.app = app
        self.web = web
        self.max_age = f"max-age={web.runtime.settings.page_max_age}, public".encode()

    @property
    def state(self) -> object:
        """The wrapped app's state (``state.stilton`` is the WebState), as on a Starlette app."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope["query_string"]
            and await self._answer(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    def _public(self, index: str) -> BuiltIndex | None:
        """The index, if it is current and anyone may read it (what it serves from its members
        is checked per page and per file)."""
        built = self.web.indexes.get(index)
        if (
            built is None
            or built.stamp != self.web.versions.index_stamp(index)
            or not built.acl.is_public
        ):
            return None
        return built

    async def _answer(self, scope: Scope, send: Send) -> bool:
        parts = scope["path"].split("/")
        if parts[-1] != "" and len(parts) == 5 and parts[2] == "files":
            return await self._file(scope, send, parts[1], parts[3], parts[4])
        if parts[-1] != "":
            return False
        if len(parts) in (3, 4) and parts[1] == "simple":
            index, project = self.web.default_index, (parts[2] if len(parts) == 4 else None)
        elif len(parts) in (4, 5) and parts[2] == "simple":
            index, project = parts[1], (parts[3] if len(parts) == 5 else None)
        else:
            return False
        built = self._public(index)
        if built is None or (project is None and not built.public):
            return False
        headers = dict(scope["headers"])
        fmt = _format(headers.get(b"accept", b"").decode("latin-1"))
        if fmt is None:
            return False
        page = self.web.pages.get(index, (project, fmt.value, None))
        if page is None or page.stale is not None or not built.readable_by_anyone(page.sources):
            return False
        self.web.metrics.page_cache_hit()
        encoding = headers.get(b"accept-encoding")
        compressed = page.gzipped is not None and accepts_gzip(
            encoding.decode("latin-1") if encoding else None
        )
        await self._send_page(scope, send, page, fmt, headers.get(b"if-none-match"), compressed)
        return True

    async def _send_page(
        self,
        scope: Scope,
        send: Send,
        page: RenderedPage,
        fmt: SimpleFormat,
        if_none_match: bytes | None,
        compressed: bool,
    ) -> None:
        etag = page.gzip_etag if compressed else page.etag
        raw = [
            (b"etag", etag.encode()),
            (b"vary", b"Accept, Accept-Encoding"),
            (b"cache-control", self.max_age),
            (SERIAL_HEADER.lower().encode(), str(page.serial).encode()),
        ]
        if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), etag):
            await send({"type": "http.response.start", "status": 304, "headers": raw})
            await send({"type": "http.response.body", "body": b""})
            return
        body = page.gzipped if compressed and page.gzipped is not None else page.body
        raw += [
            (b"content-type", fmt.content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if compressed:
            raw.append((b"content-encoding", b"gzip"))
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _file(self, scope: Scope, send: Send, index: str, sha256: str, name: str) -> bool:
        built = self._public(index)
        if "http.response.pathsend" not in scope.get("extensions", {}) or built is None:
            return False
        headers = dict(scope["headers"])
        if any(h in headers for h in _SKIP_FILE_HEADERS):
            return False
        want_metadata = name.endswith(METADATA_SUFFIX)
        filename = name.removesuffix(METADATA_SUFFIX) if want_metadata else name
        opened = self.web.files.get(index, (sha256, filename, want_metadata))
        if opened is None or not built.readable_by_anyone(opened.sources):
            return False
        blob, blobs = opened.blob, self.web.runtime.blobs
        delivery = blobs.delivery(blob.sha256, blob.size)
        # Only files the server sends itself are this fast; the others take the full path.
        if not isinstance(delivery, SendPath) or not blobs.still_stored(blob.sha256):
            return False
        path = delivery.path
        etag = f'"{blob.sha256}"'
        raw = [
            (b"etag", etag.encode()),
            (b"cache-control", f"{IMMUTABLE}, public".encode()),
            (b"accept-ranges", b"bytes"),
        ]
        match = headers.get(b"if-none-match")
        if match is not None and etag_matches(match.decode("latin-1"), etag):
            await send({"type": "http.response.start", "status": 304, "headers": raw})
            await send({"type": "http.response.body", "body": b""})
            return True
        raw += [
            (b"content-type", OCTET_STREAM.encode()),
            (b"content-length", str(blob.size).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        message: Message = (
            {"type": "http.response.body", "body": b""}
            if scope["method"] == "HEAD"
            else {"type": "http.response.pathsend", "path": str(path)}
        )
        await send(message)
        return True
