"""File routes: distributions and their PEP 658 metadata, by sha256 and filename.

Files never change, so they carry a strong ETag (their sha256) and immutable cache headers;
single and suffix ranges answer 206, ``If-Range`` guards resumed downloads. A whole file goes
the way its blob store plans (``Delivery``): a local file sent by the server itself (ASGI
pathsend), bytes streamed from a bucket, or a redirect to a short-lived presigned URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from stilton.core.errors import InvalidInput, NotFound
from stilton.core.filenames import parse_distribution_filename
from stilton.core.names import IndexName, ProjectName
from stilton.core.permissions import Action
from stilton.core.ranges import parse_range
from stilton.core.urls import METADATA_SUFFIX
from stilton.indexes.base import FileStream, StoredBlob
from stilton.storage.blobs import BlobStore, RedirectTo, SendPath, StreamBlob
from stilton.web.auth import authorize, authorize_sources, project_sources
from stilton.web.simple import etag_matches, visibility
from stilton.web.state import OpenedFile, index_of, state_of

IMMUTABLE = "max-age=365000000, immutable"
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


async def _open(request: Request) -> tuple[StoredBlob | FileStream, frozenset[IndexName]]:
    """The file (or its metadata) a URL names, and the other indexes it comes from."""
    sha256, filename = request.path_params["sha256"], request.path_params["filename"]
    want_metadata = filename.endswith(METADATA_SUFFIX)
    if want_metadata:
        filename = filename.removesuffix(METADATA_SUFFIX)
    if not _SHA256.match(sha256):
        raise NotFound("No such file: a file URL names the file's sha256.")
    state = state_of(request)
    index = await index_of(request)
    await authorize(request, index, Action.READ)
    project = project_of(filename)
    key = (sha256, filename, want_metadata)
    found = state.files.get(index.name, key)
    if found is not None and state.runtime.blobs.still_stored(found.blob.sha256):
        await authorize_sources(request, index, project, found.sources)
        return found.blob, found.sources
    stamp = state.versions.stamp(index.name, project)
    sources = await project_sources(request, index, project)
    await authorize_sources(request, index, project, sources)
    if want_metadata:
        opened: StoredBlob | FileStream = await index.open_metadata(sha256, filename)
    else:
        opened = await index.open_file(sha256, filename)
    if isinstance(opened, StoredBlob):
        state.files.put(index.name, key, OpenedFile(opened, sources), project=project, stamp=stamp)
    return opened, sources


@lru_cache(maxsize=4096)
def project_of(filename: str) -> ProjectName | None:
    """The project a file URL's filename names (None: no valid distribution filename)."""
    try:
        return parse_distribution_filename(filename).project
    except InvalidInput:
        return None


def _if_range_allows(request: Request, etag: str) -> bool:
    """RFC 9110 §13.1.5: a range applies only if If-Range names the current representation."""
    condition = request.headers.get("if-range")
    return condition is None or condition.strip() == etag


def _streaming(request: Request, stream: FileStream, headers: dict[str, str]) -> Response:
    """A file still arriving from upstream, passed on as it arrives."""
    if stream.size is not None:
        headers["Content-Length"] = str(stream.size)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=OCTET_STREAM)
    return StreamingResponse(stream.chunks(), 200, headers, media_type=OCTET_STREAM)


async def serve_file(request: Request) -> Response:
    opened, sources = await _open(request)
    blobs = state_of(request).runtime.blobs
    etag = f'"{request.path_params["sha256"]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{IMMUTABLE}, {visibility(request, sources)}",
        "Accept-Ranges": "bytes",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    ranged = "range" in request.headers and _if_range_allows(request, etag)
    if not isinstance(opened, StoredBlob):
        if not ranged:
            return _streaming(request, opened, headers)
        opened = await opened.stored()  # a range of a file still arriving: wait for all of it
    blob, size = opened.sha256, opened.size
    headers["ETag"] = etag = f'"{blob}"'
    byte_range = parse_range(request.headers.get("range"), size) if ranged else None
    if request.method == "HEAD":
        headers["Content-Length"] = str(byte_range.length if byte_range else size)
        if byte_range:
            headers["Content-Range"] = byte_range.content_range(size)
        status = 206 if byte_range else 200
        return Response(status_code=status, headers=headers, media_type=OCTET_STREAM)
    if byte_range is not None:
        headers["Content-Range"] = byte_range.content_range(size)
        headers["Content-Length"] = str(byte_range.length)
        return StreamingResponse(
            iterate_in_threadpool(blobs.iter_range(blob, byte_range.start, byte_range.end)),
            status_code=206,
            headers=headers,
            media_type=OCTET_STREAM,
        )
    return _deliver(blobs, blob, size, headers)


def _deliver(blobs: BlobStore, sha256: str, size: int, headers: dict[str, str]) -> Response:
    """The whole stored file, the way the blob store plans it."""
    match blobs.delivery(sha256, size):
        case SendPath(path):
            return PathSendResponse(path, headers, blobs, sha256, size)
        case RedirectTo(url):
            # The URL expires soon: the redirect itself is never cached.
            return RedirectResponse(url, 302, headers={"Cache-Control": "no-store"})
        case StreamBlob():
            headers["Content-Length"] = str(size)
            chunks = blobs.iter_range(sha256, 0, size - 1) if size else iter(())
            return StreamingResponse(
                iterate_in_threadpool(chunks), 200, headers, media_type=OCTET_STREAM
            )
