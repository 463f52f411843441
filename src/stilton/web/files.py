"""File routes: distributions and their PEP 658 metadata, by sha256 and filename.

Files never change, so they carry a strong ETag (their sha256) and immutable cache headers;
single and suffix ranges answer 206, ``If-Range`` guards resumed downloads, and a whole local
file is sent by the server itself (ASGI pathsend) rather than read through Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from stilton.core.errors import NotFound
from stilton.core.ranges import parse_range
from stilton.core.urls import METADATA_SUFFIX
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import StoredFile
from stilton.web.simple import etag_matches
from stilton.web.state import index_of, state_of

IMMUTABLE = "max-age=365000000, immutable, public"
OCTET_STREAM = "application/octet-stream"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PathSendResponse(Response):
    """A whole file, sent by the server from its path (``http.response.pathsend``) where the
    server supports it, streamed in chunks otherwise."""

    def __init__(
        self, path: Path, headers: dict[str, str], blobs: BlobStore, sha256: str, size: int
    ) -> None:
        super().__init__(status_code=200, headers=headers, media_type=OCTET_STREAM)
        self.headers["Content-Length"] = str(size)
        self.path, self.blobs, self.sha256, self.size = path, blobs, sha256, size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": str(self.path)})
            return
        async for chunk in iterate_in_threadpool(self._chunks()):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _chunks(self) -> Iterator[bytes]:
        if self.size:
            yield from self.blobs.iter_range(self.sha256, 0, self.size - 1)


async def _find(request: Request) -> tuple[StoredFile, str, int]:
    """The file a URL names, and the blob (file or metadata) and size to send."""
    sha256, filename = request.path_params["sha256"], request.path_params["filename"]
    want_metadata = filename.endswith(METADATA_SUFFIX)
    if want_metadata:
        filename = filename.removesuffix(METADATA_SUFFIX)
    if not _SHA256.match(sha256):
        raise NotFound("No such file: a file URL names the file's sha256.")
    state = state_of(request)
    index = await index_of(request)
    stored = state.files.get(index.name, (sha256, filename))
    if stored is None:
        generation = state.generations.current(index.name)
        stored = await run_in_threadpool(index.find_file, sha256, filename)
        if stored is None:
            raise NotFound(f"No file {filename!r} with sha256 {sha256} in index {index.name!r}.")
        state.files.put(index.name, (sha256, filename), generation, stored)
    if not want_metadata:
        return stored, stored.sha256, stored.size
    if stored.metadata_sha256 is None:
        raise NotFound(f"{filename!r} has no core metadata file (PEP 658 covers wheels only).")
    size = await run_in_threadpool(_blob_size, state.runtime.blobs, stored.metadata_sha256)
    return stored, stored.metadata_sha256, size


def _blob_size(blobs: BlobStore, sha256: str) -> int:
    path = blobs.local_path(sha256)
    if path is not None:
        return path.stat().st_size
    return len(blobs.read(sha256))


def _if_range_allows(request: Request, etag: str) -> bool:
    """RFC 9110 §13.1.5: a range applies only if If-Range names the current representation."""
    condition = request.headers.get("if-range")
    return condition is None or condition.strip() == etag


async def serve_file(request: Request) -> Response:
    _stored, blob, size = await _find(request)
    blobs = state_of(request).runtime.blobs
    etag = f'"{blob}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    byte_range = None
    if _if_range_allows(request, etag):
        byte_range = parse_range(request.headers.get("range"), size)
    if request.method == "HEAD":
        headers["Content-Length"] = str(byte_range.length if byte_range else size)
        if byte_range:
            headers["Content-Range"] = byte_range.content_range(size)
        return Response(
            status_code=206 if byte_range else 200, headers=headers, media_type=OCTET_STREAM
        )
    if byte_range is not None:
        headers["Content-Range"] = byte_range.content_range(size)
        headers["Content-Length"] = str(byte_range.length)
        return StreamingResponse(
            iterate_in_threadpool(blobs.iter_range(blob, byte_range.start, byte_range.end)),
            status_code=206,
            headers=headers,
            media_type=OCTET_STREAM,
        )
    path = blobs.local_path(blob)
    if path is None:
        raise NotFound("Remote blob stores are not served yet.")
    return PathSendResponse(path, headers, blobs, blob, size)
