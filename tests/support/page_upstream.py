"""A fast upstream of big project pages on a loopback socket, for scale tests of the proxy.

Each project is described compactly (a name and how many files its page lists); its page holds
one real tiny wheel (the newest version, served with its PEP 658 metadata) and synthetic entries
of older versions whose URLs lead to a 404. Pages are rendered once at start, as PEP 503 HTML and
PEP 691 JSON, and chosen by ``Accept``. Every request is logged, so a test can count page
fetches, file downloads and requests for synthetic files.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self

from packaging.utils import canonicalize_name

from tests.support.dists import Dist, wheel_bytes

HOST = "127.0.0.1"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
TEXT_HTML = "text/html"
SYNTHETIC_DIR = "synthetic"  # where synthetic entries point: nothing is there
TAGS = tuple(
    f"{py}-{py}-{platform}"
    for py in ("cp39", "cp310", "cp311", "cp312", "cp313")
    for platform in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "win_amd64", "macosx_11_0_arm64")
)
WHEELS_PER_VERSION = len(TAGS)


@dataclass(frozen=True, slots=True)
class BigProject:
    """A project whose page lists ``files`` files: one real wheel, the rest synthetic."""

    name: str
    files: int
    padding: int = 0  # bytes added to the real wheel, to make its download last

    @property
    def real(self) -> Dist:
        versions = self.files // (WHEELS_PER_VERSION + 1) + 1
        return Dist(self.name, f"{versions}.0", padding=self.padding)

    def filenames(self) -> list[str]:
        """Every filename on the page, the real wheel first."""
        stem = canonicalize_name(self.name).replace("-", "_")
        names = [self.real.wheel_filename]
        number = 0
        while len(names) < self.files:
            version = f"0.{number // (WHEELS_PER_VERSION + 1)}"  # below the real 1.0 or later
            slot = number % (WHEELS_PER_VERSION + 1)
            suffix = ".tar.gz" if slot == WHEELS_PER_VERSION else f"-{TAGS[slot]}.whl"
            names.append(f"{stem}-{version}{suffix}")
            number += 1
        return names


class LoggedRequest(NamedTuple):
    method: str
    path: str
    status: int


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    filename: str
    url: str  # relative to the project page
    sha256: str
    metadata_sha256: str | None


@dataclass(frozen=True, slots=True)
class _Pages:
    html: bytes
    json: bytes


def _entries(project: BigProject, wheel: bytes) -> list[_Entry]:
    real_name, *others = project.filenames()
    metadata = project.real.metadata()
    real = _Entry(
        real_name,
        f"../../files/{real_name}",
        hashlib.sha256(wheel).hexdigest(),
        hashlib.sha256(metadata).hexdigest(),
    )
    fake = [_Entry(name, f"../../{SYNTHETIC_DIR}/{name}", _digest(name), None) for name in others]
    return [real, *fake]


def _render(name: str, entries: Sequence[_Entry]) -> _Pages:
    links = []
    files = []
    for entry in entries:
        attributes = ' data-requires-python="&gt;=3.8"'
        item: dict[str, Any] = {
            "filename": entry.filename,
            "url": entry.url,
            "hashes": {"sha256": entry.sha256},
            "requires-python": ">=3.8",
        }
        if entry.metadata_sha256:
            attributes += f' data-core-metadata="sha256={entry.metadata_sha256}"'
            item["core-metadata"] = {"sha256": entry.metadata_sha256}
        href = html.escape(f"{entry.url}#sha256={entry.sha256}")
        links.append(f'<a href="{href}"{attributes}>{html.escape(entry.filename)}</a><br/>')
        files.append(item)
    page = (
        '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>Links for {name}</title></head><body>\n" + "\n".join(links) + "\n</body></html>"
    )
    document = {"meta": {"api-version": "1.0"}, "name": name, "files": files}
    return _Pages(page.encode(), json.dumps(document).encode())


class PageUpstream:
    """The upstream of ``projects`` on a free loopback port, started by ``with``."""

    def __init__(self, projects: Sequence[BigProject], *, file_delay: float = 0.0) -> None:
        self.projects = {canonicalize_name(p.name): p for p in projects}
        self.file_delay = file_delay  # seconds before a file's headers: the window races meet in
        self._files: dict[str, bytes] = {}
        self._pages: dict[str, _Pages] = {}
        for key, project in self.projects.items():
            wheel = wheel_bytes(project.real)
            self._files[project.real.wheel_filename] = wheel
            self._files[project.real.wheel_filename + ".metadata"] = project.real.metadata()
            self._pages[key] = _render(key, _entries(project, wheel))
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def simple_url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/simple/"

    def file_bytes(self, filename: str) -> bytes:
        return self._files[filename]

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def page_gets(self) -> dict[str, int]:
        """GETs of each project page, by project (projects never asked for are absent)."""
        counts: dict[str, int] = {}
        for request in self.requests():
            parts = request.path.split("/")
            if request.method == "GET" and len(parts) == 4 and parts[1] == "simple" and parts[2]:
                counts[parts[2]] = counts.get(parts[2], 0) + 1
        return counts

    def file_gets(self, filename: str) -> int:
        wanted = f"/files/{filename}"
        return sum(1 for r in self.requests() if r.method == "GET" and r.path == wanted)

    def synthetic_requests(self) -> list[str]:
        return [r.path for r in self.requests() if r.path.startswith(f"/{SYNTHETIC_DIR}/")]

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append(LoggedRequest(method, path, status))

    def answer(self, path: str, accept: str) -> tuple[int, str, bytes]:
        """Status, content type and body for ``path``."""
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "simple" and parts[2] in self._pages:
            pages = self._pages[parts[2]]
            if SIMPLE_JSON in accept:
                return 200, SIMPLE_JSON, pages.json
            return 200, TEXT_HTML, pages.html
        if len(parts) == 3 and parts[1] == "files" and parts[2] in self._files:
            if not parts[2].endswith(".metadata"):
                time.sleep(self.file_delay)
            return 200, "application/octet-stream", self._files[parts[2]]
        return 404, "text/plain", b"not found\n"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a hundred first requests may arrive at once

    def __init__(self, upstream: PageUpstream) -> None:
        super().__init__((HOST, 0), _Handler)
        self.upstream = upstream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        upstream = self.server.upstream
        path = self.path.split("?")[0]
        status, content_type, data = upstream.answer(path, self.headers.get("Accept", ""))
        upstream.record(self.command, path, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the upstream keeps its own log of requests."""
