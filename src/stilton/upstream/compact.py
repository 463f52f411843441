"""The compact form in which a proxy keeps an upstream project page: one compressed JSON
document per project, a short array per file, instead of a database row per file (the
biggest public pages list ~15,000 files)."""

from __future__ import annotations

from typing import Any, cast

import orjson
from isal import isal_zlib

from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.upstream.model import ROW_JSON, PageFiles, Row, UpstreamPage

FORMAT = 2  # 1: upload times written as "+00:00" rather than "Z"
# The document is written once per fetch and read on every cold load. It is zlib's format,
# written and read by ISA-L: at its level 1, a page is compressed ~4x faster than zlib's level 1
# and ~10% smaller, and read back ~2x faster (any zlib reads it, and it reads zlib's).
LEVEL = 1
_UNREADABLE = cast("type[Exception]", isal_zlib.error)  # its stubs declare an instance


def encode_page(page: UpstreamPage) -> bytes:
    document = {
        "v": FORMAT,
        "project": page.project,
        "serial": page.serial,
        "status": page.status.value,
        "status_reason": page.status_reason,
        "versions": list(page.versions),
        "files": page.files.rows,  # as they are: no work per file
    }
    return isal_zlib.compress(orjson.dumps(document, option=ROW_JSON), LEVEL)


def _rows(document: dict[str, Any], rows: list[Row]) -> list[Row]:
    if not all(type(row) is list and len(row) >= 10 for row in rows):
        raise ValueError("a file of the page document is not a row")
    if document.get("v") == 1:
        for row in rows:  # upload times as ROW_JSON writes them
            if isinstance(row[5], str) and row[5].endswith("+00:00"):
                row[5] = row[5][:-6] + "Z"
    return rows


def _page(document: object, rows: list[Row]) -> UpstreamPage:
    if not isinstance(document, dict) or document.get("v") not in (1, FORMAT):
        raise ValueError("not a page document of a known format")
    return UpstreamPage(
        project=ProjectName(document["project"]),
        files=PageFiles(_rows(document, rows)),
        serial=document["serial"],
        status=ProjectStatus(document["status"]),
        status_reason=document["status_reason"],
        versions=tuple(document["versions"]),
    )


def _unpack(data: bytes) -> bytes:
    try:
        return isal_zlib.decompress(data)
    except _UNREADABLE as exc:
        raise ValueError(f"not a compressed page document: {exc}") from exc


def decode_page(data: bytes) -> UpstreamPage:
    """The page ``encode_page`` wrote (ValueError if the bytes are not such a document)."""
    try:
        document = orjson.loads(_unpack(data))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a compressed page document: {exc}") from exc
    files = document.get("files") if isinstance(document, dict) else None
    return _page(document, files or [])


FILES_KEY = b',"files":['  # orjson writes keys in order, without spaces


def decode_file(data: bytes, filename: str) -> UpstreamPage:
    """The page ``encode_page`` wrote with only the file ``filename`` (none if it has no such
    file): what a file request needs, found without reading the other entries (a page may
    list 15,000; reading them all costs ~50 times more)."""
    raw = _unpack(data)
    files_at = raw.find(FILES_KEY)
    if files_at < 0:
        return decode_page(data)
    try:
        header = orjson.loads(raw[:files_at] + b"}")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a compressed page document: {exc}") from exc
    entry = _find_entry(raw, files_at + len(FILES_KEY), filename)
    return _page(header, [entry] if entry is not None else [])


def _find_entry(raw: bytes, start: int, filename: str) -> list[Any] | None:
    """The entry of ``filename``: an array of scalars that opens with its name as orjson
    writes it. It ends at the first "]" up to which it parses (a "]" inside a string leaves
    that string unterminated, so it never parses early)."""
    opening = b"[" + orjson.dumps(filename) + b","
    at = raw.find(opening, start)
    while at >= 0:
        end = raw.find(b"]", at)
        while end >= 0:
            try:
                entry = orjson.loads(raw[at : end + 1])
            except orjson.JSONDecodeError:
                end = raw.find(b"]", end + 1)
                continue
            if isinstance(entry, list) and entry and entry[0] == filename:
                return entry
            break
        at = raw.find(opening, at + 1)
    return None
