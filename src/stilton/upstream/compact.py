"""The compact form in which a proxy keeps an upstream project page: one compressed JSON
document per project, a short array per file, instead of a database row per file (the
biggest public pages list ~15,000 files)."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import orjson

from stilton.core.filenames import PackageType, quick_kind
from stilton.core.model import Digests, ProjectStatus
from stilton.core.names import ProjectName
from stilton.upstream.pages import UpstreamFile, UpstreamPage

FORMAT = 1
LEVEL = 1  # zlib level: the document is written once per fetch and read on every cold load


def _entry(file: UpstreamFile) -> list[Any]:
    yanked: object = (file.yanked_reason or True) if file.yanked else False
    metadata: object = (file.metadata_sha256 or True) if file.upstream_metadata else False
    return [
        file.filename, file.url, file.version, file.sha256 or None, file.size,
        file.upload_time, file.requires_python, yanked, metadata, file.provenance_url,
    ]  # fmt: skip


def encode_page(page: UpstreamPage) -> bytes:
    document = {
        "v": FORMAT,
        "project": page.project,
        "serial": page.serial,
        "status": page.status.value,
        "status_reason": page.status_reason,
        "versions": list(page.versions),
        "files": [_entry(file) for file in page.files],
    }
    # orjson writes datetimes as RFC 3339 ("...+00:00"), which fromisoformat() reads back.
    return zlib.compress(orjson.dumps(document), LEVEL)


def _file(entry: list[Any]) -> UpstreamFile:
    filename, url, version, sha256, size, upload_time, requires_python, yanked, metadata = entry[:9]
    packagetype, python_version = quick_kind(filename)
    return UpstreamFile(
        filename,
        version,
        packagetype,
        python_version,
        size,
        Digests(sha256 or ""),
        datetime.fromisoformat(upload_time) if upload_time else None,
        requires_python,
        yanked is not False,
        yanked if isinstance(yanked, str) else None,
        packagetype is PackageType.WHEEL,
        metadata if isinstance(metadata, str) else None,
        None,
        entry[9],
        url,
        metadata is not False,
    )


def _page(document: object, files: tuple[UpstreamFile, ...]) -> UpstreamPage:
    if not isinstance(document, dict) or document.get("v") != FORMAT:
        raise ValueError("not a page document of a known format")
    return UpstreamPage(
        project=ProjectName(document["project"]),
        files=files,
        serial=document["serial"],
        status=ProjectStatus(document["status"]),
        status_reason=document["status_reason"],
        versions=tuple(document["versions"]),
    )


def _unpack(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error as exc:
        raise ValueError(f"not a compressed page document: {exc}") from exc


def decode_page(data: bytes) -> UpstreamPage:
    """The page ``encode_page`` wrote (ValueError if the bytes are not such a document)."""
    try:
        document = orjson.loads(_unpack(data))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a compressed page document: {exc}") from exc
    files = document.get("files") if isinstance(document, dict) else None
    return _page(document, tuple(_file(entry) for entry in files or ()))


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
    return _page(header, (_file(entry),) if entry is not None else ())


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
