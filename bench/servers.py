"""The servers a benchmark installs from, each a process of its own on a free loopback port: the
static upstream (nginx when installed, else Python's ``http.server``) and a Stilton proxy of it.

Every server is stopped by the PID the bench started; nothing else is signalled.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import httpx

from tests.support.server import CLOSED_UPSTREAM, HOST, StiltonServer, find_free_port

READY_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
PROXY_INDEX = "up"  # the Stilton proxy index created for the upstream
NGINX_FALLBACK_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")  # not on every user's PATH


class ServerKind(StrEnum):
    """Which program serves the static upstream; ``auto`` prefers nginx when it is installed."""

    AUTO = "auto"
    NGINX = "nginx"
    PYTHON = "python"


class BenchServerError(RuntimeError):
    """A server could not be started or did not become ready; the message carries its log."""


class Upstream(Protocol):
    """A running static upstream: where its simple index is and how much it has served."""

    @property
    def label(self) -> str: ...

    @property
    def index_url(self) -> str: ...

    @property
    def pid(self) -> int: ...

    def requests_served(self) -> int: ...


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``url`` answers 200; raise with the log if the process exits or times out."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchServerError(f"{process.args!r} exited early:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.05)
    raise BenchServerError(f"{url} was not ready within {READY_TIMEOUT:.0f} s:\n{log.read_text()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process we started, then SIGKILL its group (which it leads) if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class OwnedProcess:
    """A server process the bench started: made ready or stopped, and stopped on exit."""

    _process: subprocess.Popen[bytes] | None = None

    def _await_ready(self, url: str, log: Path, then: Callable[[], None] | None = None) -> None:
        assert self._process is not None
        try:
            wait_until_ready(url, self._process, log)
            if then is not None:
                then()
        except BaseException:
            stop_process(self._process)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None


class _StaticServer(OwnedProcess, ABC):
    """A static file server process over ``tree``, logging one line per request to a file."""

    label = "static"

    def __init__(self, tree: Path, workdir: Path, environ: Mapping[str, str]) -> None:
        self.tree = tree
        self.workdir = workdir
        self.environ = dict(environ)
        self.port = find_free_port()
        self.log = workdir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def index_url(self) -> str:
        return f"http://{HOST}:{self.port}/simple/"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchServerError(f"{self.label} is not running")
        return self._process.pid

    @abstractmethod
    def argv(self) -> Sequence[str]:
        """The command that runs the server in the foreground."""

    @abstractmethod
    def requests_served(self) -> int:
        """How many requests the server has logged since it started."""

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = self.argv()
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environ,
                start_new_session=True,
            )
        self._await_ready(self.index_url, self.log)
        return self


def find_nginx(environ: Mapping[str, str]) -> str | None:
    search = os.pathsep.join([environ.get("PATH", os.defpath), *NGINX_FALLBACK_DIRS])
    return shutil.which("nginx", path=search)


def nginx_version(binary: str) -> str:
    completed = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"nginx/(\S+)", completed.stderr + completed.stdout)
    return found.group(1) if found else "unknown"


class NginxUpstream(_StaticServer):
    """nginx in the foreground (``daemon off``) with its config, logs and temp dirs in workdir."""

    def __init__(
        self,
        binary: str,
        tree: Path,
        workdir: Path,
        environ: Mapping[str, str],
        *,
        gzip: bool = True,
        negotiate: bool = False,
    ) -> None:
        super().__init__(tree, workdir, environ)
        self.binary = binary
        self.label = f"nginx {nginx_version(binary)}"
        self.access_log = workdir / "access.log"
        self.gzip = gzip  # serve the tree's gzipped copies to clients that accept them
        self.negotiate = negotiate  # PEP 691: index.json to clients that ask for JSON

    def config(self) -> str:
        prefix = self.workdir
        temp_paths = "".join(
            f"    {kind}_temp_path {prefix / 'temp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            "worker_processes auto;\n"
            f"pid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    types { text/html html; application/vnd.pypi.simple.v1+json json; }\n"
            "    default_type application/octet-stream;\n"
            f"{self._negotiation()}"
            "    log_format requests '$request $status $body_bytes_sent';\n"
            f"    access_log {self.access_log} requests;\n"
            f"{temp_paths}"
            "    sendfile on;\n"
            # The suite's tree holds gzipped pages beside the plain ones (upstream.py).
            f"    gzip_static {'on' if self.gzip else 'off'};\n"
            "    tcp_nopush on;\n"
            "    keepalive_timeout 65;\n"
            "    absolute_redirect off;\n"
            "    server {\n"
            f"        listen {HOST}:{self.port};\n"
            f"        root {self.tree};\n"
            f"        index {'$simple_index' if self.negotiate else 'index.html'};\n"
            "    }\n"
            "}\n"
        )

    def _negotiation(self) -> str:
        """A map from the Accept header to the index file of a directory (JSON when asked)."""
        if not self.negotiate:
            return ""
        return (
            "    map $http_accept $simple_index {\n"
            "        default index.html;\n"
            "        ~application/vnd\\.pypi\\.simple\\.v1\\+json index.json;\n"
            "    }\n"
        )

    def argv(self) -> Sequence[str]:
        (self.workdir / "temp").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        return [
            self.binary,
            "-p",
            str(self.workdir),
            "-e",
            str(self.workdir / "error.log"),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
        ]

    def requests_served(self) -> int:
        if not self.access_log.exists():
            return 0
        with self.access_log.open("rb") as log:
            return sum(1 for _ in log)


class PythonUpstream(_StaticServer):
    """``python -m http.server`` (a ThreadingHTTPServer) speaking HTTP/1.1."""

    label = f"python {sys.version_info.major}.{sys.version_info.minor} http.server"

    def argv(self) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            HOST,
            "--directory",
            str(self.tree),
            "--protocol",
            "HTTP/1.1",
            str(self.port),
        ]

    def requests_served(self) -> int:
        # The handler logs each request as `... "GET /path HTTP/1.1" 200 -` on stderr.
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return len(re.findall(r'"(?:GET|HEAD) ', text))


def open_upstream(
    kind: ServerKind, tree: Path, workdir: Path, environ: Mapping[str, str]
) -> NginxUpstream | PythonUpstream:
    """The static server to use (not started yet): nginx if asked or found, else Python's."""
    binary = find_nginx(environ) if kind is not ServerKind.PYTHON else None
    if kind is ServerKind.NGINX and binary is None:
        raise BenchServerError("--upstream-server nginx was asked for, but nginx is not on PATH")
    if binary is not None:
        return NginxUpstream(binary, tree, workdir, environ)
    return PythonUpstream(tree, workdir, environ)


class StiltonProxy:
    """A fresh ``stilton serve`` (empty data dir) with a proxy index of ``upstream_url``:
    an index ``up`` of its own, or, ``through_group``, the default layout's ``pypi`` proxy of it
    served through the ``main`` group at ``/simple/``, the way a new user installs."""

    def __init__(
        self,
        root: Path,
        upstream_url: str,
        environ: Mapping[str, str],
        *,
        workers: int | None = None,
        through_group: bool = False,
    ) -> None:
        self.through_group = through_group
        default_upstream = upstream_url if through_group else CLOSED_UPSTREAM
        self.server = StiltonServer(
            root, environ=environ, workers=workers, default_upstream=default_upstream
        )
        self.upstream_url = upstream_url

    @property
    def index_url(self) -> str:
        return self.server.simple_url if self.through_group else self.server.index_url(PROXY_INDEX)

    @property
    def pid(self) -> int:
        if self.server.pid is None:
            raise BenchServerError("stilton serve is not running")
        return self.server.pid

    def __enter__(self) -> Self:
        self.server.start()
        if self.through_group:
            return self
        try:
            self.server.cli(
                "index",
                "create",
                PROXY_INDEX,
                "--kind",
                "proxy",
                "--upstream",
                self.upstream_url,
                "--data-dir",
                str(self.server.data_dir),
            )
            self._wait_for_index()
        except BaseException:
            self.server.stop()
            raise
        return self

    def _wait_for_index(self) -> None:
        """Wait until the running server sees the new index (its project list never goes
        upstream, so this leaves the cache cold)."""
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if client.get(self.index_url).status_code == 200:
                    return
                time.sleep(0.05)
        raise BenchServerError(
            f"{self.index_url} did not appear within {READY_TIMEOUT:.0f} s:\n"
            f"{self.server.read_log()}"
        )

    def log_problems(self) -> list[str]:
        """Lines of the server's log that report an error or a traceback."""
        pattern = re.compile(r"traceback|error|exception", re.IGNORECASE)
        return [line for line in self.server.read_log().splitlines() if pattern.search(line)]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.stop()
