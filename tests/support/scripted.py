"""A scripted HTTP server on any loopback address, for hostile-upstream tests.

Each path answers with a fixed ``Reply``: any status and headers, a body sent in chunks with
pauses between them, with or without a Content-Length. Every connection and request is
recorded (headers, and whether a TLS client certificate was shown), so a test can check what
reached the server, and that nothing did.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self

Body = bytes | Callable[[], Iterable[bytes]]  # a callable makes its chunks lazily


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Body = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    pause: float = 0.0  # seconds before each chunk of the body
    declare_length: bool = True  # else the body ends when the connection closes

    def chunks(self) -> Iterable[bytes]:
        return [self.body] if isinstance(self.body, bytes) else self.body()


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": location})


def trickle(data: bytes, pause: float, content_type: str) -> Reply:
    """One byte at a time, ``pause`` seconds apart."""
    return Reply(
        200,
        lambda: (data[i : i + 1] for i in range(len(data))),
        {"Content-Type": content_type},
        pause=pause,
    )


def gzip_bomb(decoded_size: int) -> Callable[[], Iterator[bytes]]:
    """A gzip stream of ``decoded_size`` zero bytes, compressed as it is sent (~1000:1)."""

    def chunks() -> Iterator[bytes]:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = bytes(2**20)
        for _ in range(decoded_size // len(block)):
            if data := compressor.compress(block):
                yield data
        yield compressor.flush()

    return chunks


class Recorded(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    client_certificate: bool  # a TLS client certificate was shown

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: ScriptedServer, port: int) -> None:
        self.script = script
        self.address_family = socket.AF_INET6 if ":" in script.host else socket.AF_INET
        super().__init__((script.host, port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        with self.script._lock:
            self.script._connections += 1
        if self.script.tls is not None:
            connection = self.script.tls.wrap_socket(connection, server_side=True)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (as a refusing proxy does) are expected


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        script = self.server.script
        shown = isinstance(self.connection, ssl.SSLSocket) and bool(self.connection.getpeercert())
        headers = {name.lower(): value for name, value in self.headers.items()}
        with script._lock:
            script._requests.append(Recorded(self.command, self.path, headers, shown))
            reply = script.routes.get(self.path.split("?")[0], Reply(404, b"not scripted"))
        self._send(reply)

    do_HEAD = do_GET

    def _send(self, reply: Reply) -> None:
        chunks = [] if self.command == "HEAD" else reply.chunks()
        if reply.declare_length:
            chunks = list(chunks)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.declare_length:
            self.send_header("Content-Length", str(sum(map(len, chunks))))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        with contextlib.suppress(OSError):
            for chunk in chunks:
                time.sleep(reply.pause)
                self.wfile.write(chunk)
                self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedServer:
    """Answers scripted replies on ``host`` (127.0.0.1, 127.0.0.2, ::1 ...) from a thread."""

    def __init__(
        self, host: str = "127.0.0.1", *, port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.tls = tls
        self.routes: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._connections = 0
        self._requests: list[Recorded] = []
        self._server = _Server(self, port)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
        self._thread.join()

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.netloc}"

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted."""
        with self._lock:
            return self._connections

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)
