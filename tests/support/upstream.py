"""A fake upstream package repository on a real loopback socket, for proxy tests.

It serves real tiny wheels and sdists through the Simple API (PEP 503 HTML and PEP 691 JSON),
the Warehouse JSON API, a find-links page and ranged file downloads, journals every change
with serials, and can misbehave on demand through named faults (`Fault`).
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import html
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from tests.support.dists import Dist, sdist_bytes, wheel_bytes

HOST = "127.0.0.1"
API_VERSION = "1.4"  # PEP 792: project status markers
FIRST_SERIAL = 1000  # journal ids start here, so a stale serial (minus 100) stays positive
STATUSES = frozenset({"active", "archived", "quarantined", "deprecated"})  # PEP 792

TEXT_HTML = "text/html"
SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_ALIASES = {
    "application/vnd.pypi.simple.latest+html": SIMPLE_HTML,
    "application/vnd.pypi.simple.latest+json": SIMPLE_JSON,
}
# PyPI's offer order: ties in quality go to the first offer, so `*/*` gets HTML.
SIMPLE_OFFERS = (TEXT_HTML, SIMPLE_HTML, SIMPLE_JSON)
OCTET_STREAM = "application/octet-stream"

PAGE_CACHE_CONTROL = "max-age=600, public"  # 10 minutes, as PyPI's simple pages
JSON_API_CACHE_CONTROL = "max-age=900, public"  # 15 minutes, as PyPI's JSON API
FILE_CACHE_CONTROL = "max-age=365000000, immutable, public"  # files never change


class Fault(enum.StrEnum):
    """Named ways the upstream misbehaves; set globally or for one project, at any time."""

    SLOW = "slow"  # every response waits `slow_seconds` before its headers
    ERROR_500 = "error-500"  # 500 text/plain on pages, files and the JSON API
    RESET = "reset"  # no response: the connection is closed with an RST
    TRUNCATED = "truncated"  # files (and .metadata) send half the announced Content-Length
    WRONG_HASH = "wrong-hash"  # pages advertise a sha256 that is not the file's
    WRONG_SIZE = "wrong-size"  # JSON pages advertise a size (PEP 700) one byte more than the file's
    NO_HASHES = "no-hashes"  # pages advertise no digests at all
    NO_METADATA = "no-metadata"  # no core metadata advertised; .metadata answers 404
    NO_RANGE = "no-range"  # Range ignored (200, whole file); HEAD answers 405
    HTML_ONLY = "html-only"  # pages are always HTML with `Content-Type: text/html`
    JSON_ONLY = "json-only"  # pages are always PEP 691 JSON
    STALE_SERIAL = "stale-serial"  # the page before the latest change, serial lowered by a lag
    GARBAGE = "garbage"  # 200, labelled simple-API JSON, body not JSON
    NOT_FOUND = "not-found"  # 404 on everything


class UrlStyle(enum.StrEnum):
    """How project pages point at files."""

    ABSOLUTE = "absolute"  # http://127.0.0.1:PORT/files/<filename>
    RELATIVE = "relative"  # ../../files/<filename>
    BASE_HREF = "base-href"  # HTML: <base href=".../files/"> and bare <filename>; JSON: absolute


class LoggedRequest(NamedTuple):
    """One request the upstream answered; ``status`` is 0 when the connection was reset."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    status: int

    @property
    def carried_auth(self) -> bool:
        return "authorization" in self.headers


@dataclass(frozen=True, slots=True)
class _File:
    dist: Dist
    filename: str
    data: bytes
    metadata: bytes | None  # wheels only: the exact METADATA bytes (PEP 658)
    upload_time: datetime
    yanked: bool
    yanked_reason: str | None
    sha256: str
    md5: str
    blake2b_256: str

    @classmethod
    def build(
        cls, dist: Dist, data: bytes, *, wheel: bool, upload_time: datetime, yanked: str | bool
    ) -> _File:
        return cls(
            dist=dist,
            filename=dist.wheel_filename if wheel else dist.sdist_filename,
            data=data,
            metadata=dist.metadata() if wheel else None,
            upload_time=upload_time,
            yanked=yanked is not False,
            yanked_reason=_yank_reason(yanked),
            sha256=hashlib.sha256(data).hexdigest(),
            md5=hashlib.md5(data).hexdigest(),
            blake2b_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
        )

    def yanked_as(self, yanked: str | bool) -> _File:
        return replace(self, yanked=yanked is not False, yanked_reason=_yank_reason(yanked))

    @property
    def metadata_sha256(self) -> str | None:
        return None if self.metadata is None else hashlib.sha256(self.metadata).hexdigest()

    @property
    def python_version(self) -> str:
        return self.dist.tag.split("-")[0] if self.metadata is not None else "source"


@dataclass(frozen=True, slots=True)
class _Project:
    name: str  # the display name of the first upload
    files: tuple[_File, ...]
    serial: int
    changed: datetime
    status: str = "active"
    status_reason: str | None = None

    @property
    def offered_files(self) -> tuple[_File, ...]:
        # PEP 792: a quarantined project offers no files.
        return () if self.status == "quarantined" else self.files

    @property
    def versions(self) -> list[str]:
        return sorted({f.dist.version for f in self.offered_files}, key=_version_key)


@dataclass(slots=True)
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    reset: bool = False  # close with an RST instead of answering
    truncate: bool = False  # announce the full length, send half the body, close


@dataclass(frozen=True, slots=True)
class _View:
    """What one request may see of the upstream: state, faults and URL settings."""

    base_url: str
    url_style: UrlStyle
    faults: frozenset[Fault]

    def sha256(self, file: _File) -> str | None:
        if Fault.NO_HASHES in self.faults:
            return None
        if Fault.WRONG_HASH in self.faults:
            return hashlib.sha256(file.data + b"-not-this-file").hexdigest()
        return file.sha256

    def metadata_sha256(self, file: _File) -> str | None:
        return None if Fault.NO_METADATA in self.faults else file.metadata_sha256

    def size(self, file: _File) -> int:
        return len(file.data) + (1 if Fault.WRONG_SIZE in self.faults else 0)

    def file_url(self, file: _File, *, json_form: bool) -> str:
        path = f"files/{quote(file.filename)}"
        if self.url_style is UrlStyle.RELATIVE:
            return f"../../{path}"
        if self.url_style is UrlStyle.BASE_HREF and not json_form:
            return quote(file.filename)
        return f"{self.base_url}/{path}"


def _yank_reason(yanked: str | bool) -> str | None:
    # PEP 592: yanked is a bool or a non-empty reason; an empty string means "no reason".
    return yanked if isinstance(yanked, str) and yanked else None


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _etag(*parts: bytes) -> str:
    return '"' + hashlib.sha256(b"\0".join(parts)).hexdigest()[:32] + '"'


def _text(status: int, message: str, **headers: str) -> _Response:
    body = f"{status} {message}\n".encode()
    return _Response(status, {"Content-Type": "text/plain; charset=utf-8", **headers}, body)


def _json(status: int, data: object, content_type: str = "application/json") -> _Response:
    return _Response(status, {"Content-Type": content_type}, json.dumps(data).encode())


def _negotiate(accept: str | None) -> str:
    """The simple-API media type to answer with, chosen the way PyPI does (PEP 691)."""
    ranges: list[tuple[str, float]] = []
    for item in (accept or "*/*").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((SIMPLE_ALIASES.get(media.lower(), media.lower()), quality))

    def quality_of(offer: str) -> float:
        kind = offer.split("/")[0]
        matches = [
            (2 if media == offer else 1 if media == f"{kind}/*" else 0, quality)
            for media, quality in ranges
            if media in (offer, f"{kind}/*", "*/*")
        ]
        return max(matches)[1] if matches else 0.0  # the most specific range decides

    best = max(SIMPLE_OFFERS, key=lambda offer: (quality_of(offer), -SIMPLE_OFFERS.index(offer)))
    return best if quality_of(best) > 0 else TEXT_HTML


def _render_detail_html(project: _Project, view: _View, serial: int) -> bytes:
    head = [
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        f'<meta name="pypi:project-status" content="{project.status}">',
    ]
    if project.status_reason:
        reason = html.escape(project.status_reason)
        head.append(f'<meta name="pypi:project-status-reason" content="{reason}">')
    if view.url_style is UrlStyle.BASE_HREF:
        head.append(f'<base href="{view.base_url}/files/">')
    name = html.escape(canonicalize_name(project.name))
    head.append(f"<title>Links for {name}</title>")
    anchors = []
    for file in project.offered_files:
        sha256 = view.sha256(file)
        href = view.file_url(file, json_form=False) + (f"#sha256={sha256}" if sha256 else "")
        attributes = [f'href="{html.escape(href)}"']
        if file.dist.requires_python:
            attributes.append(f'data-requires-python="{html.escape(file.dist.requires_python)}"')
        if (metadata := view.metadata_sha256(file)) is not None:
            # PEP 714: the new attribute, plus the legacy one with the same value.
            attributes.append(f'data-dist-info-metadata="sha256={metadata}"')
            attributes.append(f'data-core-metadata="sha256={metadata}"')
        if file.yanked:
            attributes.append(f'data-yanked="{html.escape(file.yanked_reason or "")}"')
        anchors.append(f"    <a {' '.join(attributes)}>{html.escape(file.filename)}</a><br />")
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        *(f"    {line}" for line in head),
        "  </head>",
        "  <body>",
        f"    <h1>Links for {name}</h1>",
        *anchors,
        "  </body>",
        "</html>",
        f"<!--SERIAL {serial}-->",
    ]
    return ("\n".join(lines) + "\n").encode()


def _simple_file(file: _File, view: _View) -> dict[str, object]:
    sha256 = view.sha256(file)
    metadata_sha256 = view.metadata_sha256(file)
    metadata: object = {"sha256": metadata_sha256} if metadata_sha256 else False
    return {
        "filename": file.filename,
        "url": view.file_url(file, json_form=True),
        "hashes": {"sha256": sha256} if sha256 else {},
        "requires-python": file.dist.requires_python,
        "core-metadata": metadata,
        "data-dist-info-metadata": metadata,  # PEP 714: the key PyPI still emits
        "yanked": (file.yanked_reason or True) if file.yanked else False,
        "size": view.size(file),
        "upload-time": _iso(file.upload_time),
        "provenance": None,
    }


def _render_detail_json(project: _Project, view: _View, serial: int) -> bytes:
    status: dict[str, str] = {"status": project.status}
    if project.status_reason:
        status["reason"] = project.status_reason
    data = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "name": canonicalize_name(project.name),
        "project-status": status,
        "versions": project.versions,
        "files": [_simple_file(file, view) for file in project.offered_files],
    }
    return json.dumps(data, indent=1).encode()


def _render_index(
    projects: Mapping[str, _Project], view: _View, serial: int, *, json_form: bool
) -> bytes:
    ordered = sorted(projects.items())
    if json_form:
        data = {
            "meta": {"api-version": API_VERSION, "_last-serial": serial},
            "projects": [{"name": p.name, "_last-serial": p.serial} for _, p in ordered],
        }
        return json.dumps(data, indent=1).encode()
    prefix = f"{view.base_url}/simple/" if view.url_style is UrlStyle.ABSOLUTE else ""
    anchors = [
        f'    <a href="{prefix}{key}/">{html.escape(project.name)}</a>' for key, project in ordered
    ]
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        f'  <head><meta name="pypi:repository-version" content="{API_VERSION}">'
        "<title>Simple index</title></head>",
        "  <body>",
        *anchors,
        "  </body>",
        "</html>",
    ]
    return ("\n".join(lines) + "\n").encode()


def _render_links(files: Iterable[tuple[_File, _View]]) -> bytes:
    anchors = []
    for file, view in files:
        sha256 = view.sha256(file)
        href = f"files/{quote(file.filename)}" + (f"#sha256={sha256}" if sha256 else "")
        anchors.append(f'<a href="{html.escape(href)}">{html.escape(file.filename)}</a><br />')
    body = "\n".join(["<!DOCTYPE html>", "<html><body>", *anchors, "</body></html>"])
    return (body + "\n").encode()


def _api_file(file: _File, view: _View) -> dict[str, object]:
    sha256 = view.sha256(file)
    digests = {"md5": file.md5, "sha256": sha256, "blake2b_256": file.blake2b_256}
    metadata_sha256 = view.metadata_sha256(file)
    return {
        "filename": file.filename,
        "packagetype": "bdist_wheel" if file.metadata is not None else "sdist",
        "python_version": file.python_version,
        "has_sig": False,
        "comment_text": "",
        "md5_digest": file.md5 if sha256 else None,
        "digests": digests if sha256 else {},
        "core-metadata": {"sha256": metadata_sha256} if metadata_sha256 else False,
        "size": len(file.data),
        "downloads": -1,
        "upload_time": _utc(file.upload_time).strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": _iso(file.upload_time),
        "url": f"{view.base_url}/files/{quote(file.filename)}",
        "requires_python": file.dist.requires_python,
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
    }


def _api_info(project: _Project, files: list[_File], base_url: str) -> dict[str, object]:
    dist = files[0].dist  # Warehouse: metadata of the first upload of the release
    name = canonicalize_name(project.name)
    yanked = all(file.yanked for file in files)
    return {
        "name": project.name,
        "version": dist.version,
        "summary": dist.summary,
        "description": dist.description,
        "description_content_type": "text/markdown" if dist.description else None,
        "keywords": "",
        "license": None,
        "license_expression": None,
        "license_files": None,
        "classifiers": [],
        "author": "",
        "author_email": "",
        "maintainer": "",
        "maintainer_email": "",
        "requires_python": dist.requires_python,
        "platform": None,
        "downloads": {"last_day": -1, "last_week": -1, "last_month": -1},
        "package_url": f"{base_url}/project/{name}/",
        "project_url": f"{base_url}/project/{name}/",
        "project_urls": None,
        "release_url": f"{base_url}/project/{name}/{dist.version}/",
        "requires_dist": list(dist.requires_dist) or None,
        "provides_extra": None,
        "docs_url": None,
        "bugtrack_url": None,
        "home_page": None,
        "download_url": None,
        "yanked": yanked,
        "yanked_reason": files[0].yanked_reason if yanked else None,
        "dynamic": None,
    }


def _render_api(project: _Project, version: str | None, view: _View, serial: int) -> bytes | None:
    """The Warehouse JSON API body for a project or one of its releases, or None if unknown."""
    releases: dict[str, list[_File]] = {}
    for file in project.offered_files:
        releases.setdefault(file.dist.version, []).append(file)
    if version is None:
        if not releases:
            return None

        def latest(item: tuple[str, list[_File]]) -> tuple[bool, bool, tuple[int, Version | str]]:
            key = _version_key(item[0])
            prerelease = isinstance(key[1], Version) and key[1].is_prerelease
            return (not all(f.yanked for f in item[1]), not prerelease, key)

        files = max(releases.items(), key=latest)[1]
    else:
        wanted = canonicalize_version(version)
        found = [fs for key, fs in releases.items() if canonicalize_version(key) == wanted]
        if not found:
            return None
        files = found[0]
    data: dict[str, object] = {
        "info": _api_info(project, files, view.base_url),
        "last_serial": serial,
        "urls": [_api_file(file, view) for file in files],
        "vulnerabilities": [],
        "ownership": {"roles": [], "organization": None},
    }
    if version is None:
        data["releases"] = {
            key: [_api_file(file, view) for file in releases[key]]
            for key in sorted(releases, key=_version_key)
        }
    return json.dumps(data, indent=1).encode()


class _RangeNotSatisfiable(Exception):
    pass


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for (RFC 9110 §14.1.2), inclusive; None means the whole file.

    Malformed and multi-range headers are ignored, as the RFC allows.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header.removeprefix("bytes=").strip().partition("-")
    if not sep or not (first + last).isdigit():
        return None
    if not first:  # a suffix range: the last N bytes
        if not int(last) or not size:
            raise _RangeNotSatisfiable
        return max(size - int(last), 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _RangeNotSatisfiable
    return start, min(int(last), size - 1) if last else size - 1


def _not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime) -> bool:
    if (tags := headers.get("if-none-match")) is not None:
        # RFC 9110 §13.1.2: weak comparison; If-Modified-Since is then ignored.
        candidates = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in candidates or etag in candidates
    if (since := headers.get("if-modified-since")) is not None:
        try:
            return _utc(last_modified).replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart() binds the same port again

    def __init__(self, port: int, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (and stop() closing their connections) are not errors.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "FakeUpstream/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end after this many seconds
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the upstream keeps its own request log

    def _serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.upstream._respond(self.command, self.path, headers)
        if self.command not in ("GET", "HEAD"):
            self.close_connection = True  # a request body we never read must not be parsed
        if response.delay:
            with self.server.upstream.in_flight():
                time.sleep(response.delay)
        if response.reset:
            self._reset()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command == "HEAD" or response.status == 304:
            return
        if response.truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout turns close() into an RST: the client sees a reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()
        self.wfile.close()
        self.connection.close()


class FakeUpstream:
    """A package repository on ``127.0.0.1`` serving from a background thread of the tests."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        url_style: UrlStyle = UrlStyle.ABSOLUTE,
        slow_seconds: float = 2.0,
        stale_serial_lag: int = 100,
        port: int = 0,
    ) -> None:
        self.auth = auth
        self.url_style = url_style
        self.slow_seconds = slow_seconds
        self.stale_serial_lag = stale_serial_lag
        self.port = port  # 0 until the first start() picks a free port; then fixed
        self._lock = threading.RLock()
        self._serial = FIRST_SERIAL
        self._changed = datetime.now(UTC)
        self._projects: dict[str, _Project] = {}
        self._before: dict[str, _Project | None] = {}  # each project before its latest change
        self._index_before: dict[str, _Project] = {}  # all projects before the latest change
        self._blobs: dict[str, _File] = {}  # every file ever added, by filename
        self._faults: dict[str | None, set[Fault]] = {}
        self._log: list[LoggedRequest] = []
        self._delayed: list[str] = []  # the targets a SLOW fault held, in order
        self._waiting = 0
        self.peak_waiting = 0  # the most SLOW responses held at the same moment
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the fake upstream is already running")
        self._server = _Server(self.port, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (keep-alive ones included)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join()

    def restart(self) -> None:
        """Go down and come back on the same port, with the same content."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the fake upstream has no port before its first start()")
        return f"http://{HOST}:{self.port}"

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    @property
    def find_links_url(self) -> str:
        return f"{self.url}/links.html"

    def file_url(self, filename: str) -> str:
        return f"{self.url}/files/{quote(filename)}"

    # -- content ----------------------------------------------------------------------------

    def add(
        self,
        dist: Dist,
        *,
        wheel: bool = True,
        sdist: bool = True,
        upload_time: datetime | None = None,
        yanked: str | bool = False,
    ) -> list[str]:
        """Upload ``dist``'s wheel and/or sdist as one change; return their filenames."""
        moment = upload_time or datetime.now(UTC)
        built = [
            _File.build(dist, make(dist), wheel=is_wheel, upload_time=moment, yanked=yanked)
            for is_wheel, make, wanted in ((True, wheel_bytes, wheel), (False, sdist_bytes, sdist))
            if wanted
        ]
        key = canonicalize_name(dist.name)
        with self._lock:
            current = self._projects.get(key)
            existing = {file.filename for file in current.files} if current else set()
            if clash := existing & {file.filename for file in built}:
                raise ValueError(f"{sorted(clash)} already exist upstream")
            project = current or _Project(dist.name, (), 0, moment)
            self._blobs.update((file.filename, file) for file in built)
            self._commit(key, replace(project, files=project.files + tuple(built)))
        return [file.filename for file in built]

    def remove_file(self, filename: str) -> None:
        with self._lock:
            key, project = self._owner(filename)
            kept = tuple(file for file in project.files if file.filename != filename)
            self._commit(key, replace(project, files=kept))

    def yank(self, filename: str, reason: str | bool = True) -> None:
        """PEP 592: mark a file yanked (``reason=False`` un-yanks it)."""
        with self._lock:
            key, project = self._owner(filename)
            files = tuple(
                f.yanked_as(reason) if f.filename == filename else f for f in project.files
            )
            self._commit(key, replace(project, files=files))

    def remove_project(self, name: str) -> None:
        with self._lock:
            key = canonicalize_name(name)
            if key not in self._projects:
                raise KeyError(name)
            self._commit(key, None)

    def set_status(self, project: str, status: str, reason: str | None = None) -> None:
        """PEP 792: mark a project active, archived, quarantined or deprecated."""
        if status not in STATUSES:
            raise ValueError(f"unknown project status {status!r}")
        with self._lock:
            key = canonicalize_name(project)
            current = self._projects[key]
            self._commit(key, replace(current, status=status, status_reason=reason))

    @property
    def serial(self) -> int:
        """The journal's latest serial (what ``/simple/`` reports)."""
        with self._lock:
            return self._serial

    def project_serial(self, name: str) -> int:
        with self._lock:
            return self._projects[canonicalize_name(name)].serial

    def file_bytes(self, filename: str) -> bytes:
        with self._lock:
            return self._blobs[filename].data

    def sha256(self, filename: str) -> str:
        with self._lock:
            return self._blobs[filename].sha256

    def metadata_bytes(self, filename: str) -> bytes:
        with self._lock:
            metadata = self._blobs[filename].metadata
        if metadata is None:
            raise KeyError(f"{filename} has no core metadata file")
        return metadata

    def _owner(self, filename: str) -> tuple[str, _Project]:
        for key, project in self._projects.items():
            if any(file.filename == filename for file in project.files):
                return key, project
        raise KeyError(filename)

    def _commit(self, key: str, project: _Project | None) -> None:
        """Record one journal entry: bump the serials and keep the state before it."""
        self._serial += 1
        self._changed = datetime.now(UTC)
        self._index_before = dict(self._projects)
        self._before[key] = self._projects.get(key)
        if project is None:
            del self._projects[key]
        else:
            self._projects[key] = replace(project, serial=self._serial, changed=self._changed)

    # -- faults and the request log ---------------------------------------------------------

    def set_fault(self, fault: Fault, project: str | None = None) -> None:
        """Turn ``fault`` on for every request, or only for ``project``'s pages and files."""
        key = None if project is None else canonicalize_name(project)
        with self._lock:
            self._faults.setdefault(key, set()).add(fault)

    def clear_fault(self, fault: Fault, project: str | None = None) -> None:
        key = None if project is None else canonicalize_name(project)
        with self._lock:
            self._faults.get(key, set()).discard(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log, in the order responses were decided."""
        with self._lock:
            return list(self._log)

    def count(self, path_or_predicate: str | Callable[[LoggedRequest], bool]) -> int:
        """How many logged requests had exactly this path, or matched the predicate."""
        if isinstance(path_or_predicate, str):
            path = path_or_predicate
            return sum(1 for request in self.requests if request.path == path)
        return sum(1 for request in self.requests if path_or_predicate(request))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- serving ----------------------------------------------------------------------------

    def _respond(self, method: str, target: str, headers: dict[str, str]) -> _Response:
        path = unquote(urlsplit(target).path)
        with self._lock:
            project = self._project_of(path)
            faults = frozenset(self._faults.get(None, set()) | self._faults.get(project, set()))
        response = self._answer(method, path, headers, faults)
        status = 0 if response.reset else response.status
        with self._lock:
            self._log.append(LoggedRequest(method, target, headers, status))
        if Fault.SLOW in faults:
            response.delay = self.slow_seconds
            with self._lock:
                self._delayed.append(target)
        return response

    @property
    def delayed(self) -> list[str]:
        """The request targets a SLOW fault held back, oldest first."""
        with self._lock:
            return list(self._delayed)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a held response while it waits (``peak_waiting`` shows parallel serving)."""
        with self._lock:
            self._waiting += 1
            self.peak_waiting = max(self.peak_waiting, self._waiting)
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    def _project_of(self, path: str) -> str | None:
        """The project a path belongs to, for per-project faults."""
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] in ("simple", "pypi"):
            return canonicalize_name(parts[1])
        if len(parts) == 2 and parts[0] == "files":
            filename = parts[1].removesuffix(".metadata")
            if filename in self._blobs:
                return canonicalize_name(self._blobs[filename].dist.name)
        return None

    def _answer(
        self, method: str, path: str, headers: dict[str, str], faults: frozenset[Fault]
    ) -> _Response:
        if Fault.RESET in faults:
            return _Response(0, reset=True)
        if self.auth is not None and headers.get("authorization") != _basic(*self.auth):
            return _text(401, "Unauthorized", **{"WWW-Authenticate": 'Basic realm="upstream"'})
        if method not in ("GET", "HEAD") or (method == "HEAD" and Fault.NO_RANGE in faults):
            return _text(
                405, "Method Not Allowed", Allow="GET" if method == "HEAD" else "GET, HEAD"
            )
        if Fault.ERROR_500 in faults:
            return _text(500, "Internal Server Error")
        if Fault.NOT_FOUND in faults:
            json_api = path.startswith("/pypi/")
            return _json(404, {"message": "Not Found"}) if json_api else _text(404, "Not Found")
        with self._lock:
            view = _View(self.url, self.url_style, faults)
            return self._route(path, headers, view)

    def _route(self, path: str, headers: Mapping[str, str], view: _View) -> _Response:
        parts = path.split("/")[1:]
        if parts == ["simple"]:
            return _redirect(f"{self.url}/simple/")
        if parts == ["simple", ""]:
            return self._index_page(headers, view)
        if len(parts) in (2, 3) and parts[0] == "simple" and parts[1] and parts[2:] in ([], [""]):
            return self._project_page(parts[1], headers, view, slash=len(parts) == 3)
        if len(parts) == 2 and parts[0] == "files":
            return self._file(parts[1], headers, view)
        if len(parts) in (3, 4, 5) and parts[0] == "pypi":
            return self._json_api(parts[1:], headers, view)
        if parts == ["links.html"]:
            return self._links_page()
        return _text(404, "Not Found")

    def _index_page(self, headers: Mapping[str, str], view: _View) -> _Response:
        projects, serial = self._projects, self._serial
        if Fault.STALE_SERIAL in view.faults:
            projects, serial = self._index_before, serial - self.stale_serial_lag

        def render(json_form: bool) -> bytes:
            return _render_index(projects, view, serial, json_form=json_form)

        return _page(headers, view, serial, self._changed, render)

    def _project_page(
        self, name: str, headers: Mapping[str, str], view: _View, *, slash: bool
    ) -> _Response:
        key = canonicalize_name(name)
        if name != key or not slash:
            # PEP 503: redirect to the normalized name, with the trailing slash.
            return _redirect(f"{self.url}/simple/{key}/")
        if (project := self._projects.get(key)) is None:
            return _text(404, "Not Found")
        serial = project.serial
        if Fault.STALE_SERIAL in view.faults:
            project = self._before.get(key) or project
            serial -= self.stale_serial_lag
        shown = project

        def render(json_form: bool) -> bytes:
            renderer = _render_detail_json if json_form else _render_detail_html
            return renderer(shown, view, serial)

        return _page(headers, view, serial, project.changed, render)

    def _file(self, name: str, headers: Mapping[str, str], view: _View) -> _Response:
        filename = name.removesuffix(".metadata")
        offered = {f.filename: f for p in self._projects.values() for f in p.offered_files}
        if (file := offered.get(filename)) is None:
            return _text(404, "Not Found")
        data = file.data
        if name != filename:
            if file.metadata is None or Fault.NO_METADATA in view.faults:
                return _text(404, "Not Found")
            data = file.metadata
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        last_modified = format_datetime(_utc(file.upload_time), usegmt=True)
        response_headers = {
            "Content-Type": OCTET_STREAM,
            "ETag": etag,
            "Last-Modified": last_modified,
            "Cache-Control": FILE_CACHE_CONTROL,
        }
        if Fault.NO_RANGE not in view.faults:
            response_headers["Accept-Ranges"] = "bytes"
        if _not_modified(headers, etag, file.upload_time):
            return _Response(304, _without_type(response_headers), data)
        ranged = Fault.NO_RANGE not in view.faults
        # RFC 9110 §13.1.5: a Range with a stale If-Range validator gets the whole file.
        ranged = ranged and headers.get("if-range", etag) in (etag, last_modified)
        try:
            wanted = _byte_range(headers.get("range"), len(data)) if ranged else None
        except _RangeNotSatisfiable:
            return _text(416, "Range Not Satisfiable", **{"Content-Range": f"bytes */{len(data)}"})
        truncate = Fault.TRUNCATED in view.faults
        if wanted is not None:
            start, end = wanted
            response_headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return _Response(206, response_headers, data[start : end + 1], truncate=truncate)
        return _Response(200, response_headers, data, truncate=truncate)

    def _json_api(self, parts: list[str], headers: Mapping[str, str], view: _View) -> _Response:
        if parts[-1] == "":
            parts = parts[:-1]  # Warehouse serves the trailing-slash form too, unredirected
        if parts[-1] != "json" or len(parts) not in (2, 3) or not parts[0]:
            return _json(404, {"message": "Not Found"})
        name, version = parts[0], (parts[1] if len(parts) == 3 else None)
        key = canonicalize_name(name)
        if name != key:
            return _redirect(f"{self.url}/pypi/{'/'.join([key, *parts[1:]])}")
        project = self._projects.get(key)
        if project is None or project.status == "quarantined":
            return _json(404, {"message": "Not Found"})  # Warehouse hides quarantined projects
        serial = project.serial
        if Fault.STALE_SERIAL in view.faults:
            project = self._before.get(key) or project
            serial -= self.stale_serial_lag
        body = _render_api(project, version, view, serial)
        if body is None:
            return _json(404, {"message": "Not Found"})
        if Fault.GARBAGE in view.faults:
            body = GARBAGE
        response_headers = {
            "Content-Type": "application/json",
            "ETag": _etag(body),
            "Last-Modified": format_datetime(_utc(project.changed), usegmt=True),
            "X-PyPI-Last-Serial": str(serial),
            "Cache-Control": JSON_API_CACHE_CONTROL,
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
        }
        if _not_modified(headers, response_headers["ETag"], project.changed):
            return _Response(304, _without_type(response_headers), body)
        return _Response(200, response_headers, body)

    def _links_page(self) -> _Response:
        shared = self._faults.get(None, set())
        files = [
            (
                file,
                _View(self.url, self.url_style, frozenset(shared | self._faults.get(key, set()))),
            )
            for key, project in sorted(self._projects.items())
            for file in project.offered_files
        ]
        body = _render_links(files)
        content_type = "text/html; charset=utf-8"
        return _Response(200, {"Content-Type": content_type, "ETag": _etag(body)}, body)


GARBAGE = b"<html><body>Service Unavailable: this is not JSON {"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _redirect(location: str) -> _Response:
    return _text(301, "Moved Permanently", Location=location)


def _without_type(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "Content-Type"}


def _page(
    headers: Mapping[str, str],
    view: _View,
    serial: int,
    changed: datetime,
    render: Callable[[bool], bytes],
) -> _Response:
    """A simple-API page in the negotiated form (PEP 691), with PyPI's caching headers."""
    media = _negotiate(headers.get("accept"))
    content_type = "text/html; charset=utf-8" if media == TEXT_HTML else media
    response_headers = {"Vary": "Accept"}
    if Fault.HTML_ONLY in view.faults:
        media, content_type, response_headers = TEXT_HTML, TEXT_HTML, {}
    elif Fault.JSON_ONLY in view.faults:
        media, content_type, response_headers = SIMPLE_JSON, SIMPLE_JSON, {}
    body = render(media == SIMPLE_JSON)
    if Fault.GARBAGE in view.faults:
        content_type, body = SIMPLE_JSON, GARBAGE
    response_headers |= {
        "Content-Type": content_type,
        "ETag": _etag(content_type.encode(), body),
        "Last-Modified": format_datetime(_utc(changed), usegmt=True),
        "X-PyPI-Last-Serial": str(serial),
        "Cache-Control": PAGE_CACHE_CONTROL,
    }
    if _not_modified(headers, response_headers["ETag"], changed):
        return _Response(304, _without_type(response_headers), body)
    return _Response(200, response_headers, body)
