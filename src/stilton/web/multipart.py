"""Streaming parser of the upload form (multipart/form-data).

The ``content`` part goes straight into a Spooler, hashed and size-checked as it arrives;
every other part is a small text field. Nothing is buffered whole in memory. A body that stops
arriving (a client gone, or one that sends less than its Content-Length) ends the upload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from stilton.core.errors import ClientDisconnected, FileTooLarge, InvalidInput, RequestTimeout
from stilton.indexes.spool import SpooledFile, Spooler
from stilton.storage.blobs import BlobStore

MAX_FIELDS_BYTES = 16 * 2**20  # all text fields together (long READMEs included)
MAX_FIELDS = 2000
FILE_FIELD = "content"


@dataclass
class UploadRequest:
    fields: dict[str, list[str]]
    file: SpooledFile | None


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    spooler: Spooler | None = None


class _FormCollector:
    def __init__(self, blobs: BlobStore, max_file_size: int) -> None:
        self.blobs = blobs
        self.max_file_size = max_file_size
        self.fields: dict[str, list[str]] = defaultdict(list)
        self.spooler: Spooler | None = None
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.field_bytes = 0
        self.field_count = 0

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise InvalidInput("Invalid multipart data: a part has no name.")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
        if self.part.name == FILE_FIELD and self.part.filename is not None:
            if self.spooler is not None:
                raise InvalidInput("Upload payload has more than one file.")
            self.spooler = Spooler(self.blobs, self.part.filename, self.max_file_size)
            self.part.spooler = self.spooler
        else:
            self.field_count += 1
            if self.field_count > MAX_FIELDS:
                raise InvalidInput(f"Too many form fields; at most {MAX_FIELDS} are accepted.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.spooler is not None:
            self.part.spooler.write(data[start:end])
            return
        self.field_bytes += end - start
        if self.field_bytes > MAX_FIELDS_BYTES:
            raise InvalidInput(
                f"Form fields too large; at most {MAX_FIELDS_BYTES // 2**20} MiB of metadata."
            )
        self.part.data.extend(data[start:end])

    def on_part_end(self) -> None:
        if self.part.spooler is None:
            self.fields[self.part.name].append(self.part.data.decode("utf-8", "replace"))

    def abort(self) -> None:
        if self.spooler is not None:
            self.spooler.abort()


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise InvalidInput(
            "Uploads are multipart/form-data POSTs (the legacy upload API); got"
            f" {request.headers.get('content-type') or 'no Content-Type'}."
        )
    return options[b"boundary"]


async def _body(request: Request, idle_timeout: float) -> AsyncGenerator[bytes]:
    """The request body as it arrives; a disconnect, or ``idle_timeout`` seconds without a
    byte, raises instead of waiting forever."""
    received = 0
    stream = request.stream()
    try:
        while True:
            with anyio.move_on_after(idle_timeout) as waiting:
                chunk = await anext(stream, None)
            if waiting.cancelled_caught:
                raise RequestTimeout(idle_timeout, received)
            if chunk is None:
                return
            received += len(chunk)
            yield chunk
    except ClientDisconnect as exc:
        raise ClientDisconnected(received) from exc
    finally:
        await stream.aclose()


async def read_upload_form(
    request: Request, blobs: BlobStore, max_file_size: int, idle_timeout: float
) -> UploadRequest:
    """Parse the upload form, spooling the file; on any failure nothing is left behind."""
    boundary = _boundary(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_file_size + MAX_FIELDS_BYTES:
        raise FileTooLarge(max_file_size)
    collector = _FormCollector(blobs, max_file_size)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async with aclosing(_body(request, idle_timeout)) as body:
            async for chunk in body:
                parser.write(chunk)
        parser.finalize()
        spooled = await run_in_threadpool(collector.spooler.finish) if collector.spooler else None
    except FormParserError as exc:
        collector.abort()
        raise InvalidInput(f"Invalid multipart data: {exc}") from exc
    except BaseException:
        collector.abort()
        raise
    return UploadRequest(dict(collector.fields), spooled)
