"""The peers as processes, each configured the way its authors document: devpi-server with a
mirror index of the upstream, proxpi under gunicorn, pypiserver over the corpus directory.

Each starts fresh (empty state) on a free loopback port in a session of its own, and is stopped by
the PID the bench started: SIGTERM, then SIGKILL of its process group.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from bench.peer_envs import DEVPI, PROXPI, PYPISERVER, PeerEnv
from bench.servers import BenchServerError, OwnedProcess
from tests.support.server import HOST, find_free_port

SETUP_TIMEOUT = 120.0  # seconds for one setup command (devpi-init, devpi index -c)
DEVPI_INDEX = "root/bench"  # the mirror index made on devpi
PROXPI_THREADS = "2"  # proxpi's Docker image: one gunicorn process, two threads
PYPISERVER_WORKERS = "4"  # pypiserver's README: gunicorn -w4


class PeerServer(OwnedProcess):
    """A peer's server process: set up under ``root``, started, made ready, stopped."""

    name = "peer"

    def __init__(self, peer: PeerEnv, root: Path, environ: Mapping[str, str]) -> None:
        self.peer = peer
        self.root = root
        self.environ = dict(environ)
        self.port = find_free_port()
        self.log = root / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def label(self) -> str:
        return self.peer.label

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def index_url(self) -> str:
        raise NotImplementedError

    @property
    def ready_url(self) -> str:
        return self.base_url + "/"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchServerError(f"{self.name} is not running")
        return self._process.pid

    def page_url(self, project: str, json: bool) -> str:
        """A project page; the JSON form is asked for with ``Accept`` at the same URL."""
        return f"{self.index_url}{project}/"

    def prepare(self) -> None:
        """Work done before the server starts (an empty data directory)."""

    def argv(self) -> Sequence[str]:
        raise NotImplementedError

    def server_environ(self) -> dict[str, str]:
        return self.environ

    def configure(self) -> None:
        """Work done once the server answers (creating an index)."""

    def run_setup(self, argv: Sequence[str]) -> str:
        """Run one setup command of the peer; raise with its output if it fails."""
        completed = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.server_environ(),
            timeout=SETUP_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0:
            raise BenchServerError(
                f"{' '.join(argv)} exited {completed.returncode}: "
                f"{(completed.stdout + completed.stderr)[-2000:]}"
            )
        return completed.stdout

    def __enter__(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                list(self.argv()),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.server_environ(),
                start_new_session=True,
            )
        self._await_ready(self.ready_url, self.log, self.configure)
        return self


class DevpiMirror(PeerServer):
    """devpi-server (its own waitress, default threads) with ``root/bench``, a mirror index of
    the upstream made by devpi-client: ``devpi index -c bench type=mirror mirror_url=...``."""

    name = "devpi"

    def __init__(self, root: Path, upstream_url: str, environ: Mapping[str, str]) -> None:
        super().__init__(DEVPI, root, environ)
        self.upstream_url = upstream_url
        self.serverdir = root / "server"
        self.clientdir = root / "client"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/{DEVPI_INDEX}/+simple/"

    @property
    def ready_url(self) -> str:
        return self.base_url + "/+api"

    def prepare(self) -> None:
        # --no-root-pypi: no default mirror of the public index, nothing leaves the machine.
        self.run_setup(
            [self.peer.bin("devpi-init"), "--serverdir", str(self.serverdir), "--no-root-pypi"]
        )

    def argv(self) -> Sequence[str]:
        return [
            self.peer.bin("devpi-server"),
            "--serverdir",
            str(self.serverdir),
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]

    def configure(self) -> None:
        client = [self.peer.bin("devpi"), "--clientdir", str(self.clientdir)]
        self.run_setup([*client, "use", self.base_url])
        self.run_setup([*client, "login", "root", "--password", ""])
        self.run_setup(
            [*client, "index", "-c", "bench", "type=mirror", f"mirror_url={self.upstream_url}"]
        )


class Proxpi(PeerServer):
    """proxpi as its Docker image runs it: ``gunicorn --preload --threads 2 proxpi.server:app``,
    configured by ``PROXPI_INDEX_URL`` and a files cache directory of its own."""

    name = "proxpi"

    def __init__(self, root: Path, upstream_url: str, environ: Mapping[str, str]) -> None:
        super().__init__(PROXPI, root, environ)
        self.upstream_url = upstream_url

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/index/"

    def server_environ(self) -> dict[str, str]:
        return {
            **self.environ,
            "PROXPI_INDEX_URL": self.upstream_url,
            "PROXPI_CACHE_DIR": str(self.root / "cache"),
            "PROXPI_LOGGING_LEVEL": "WARNING",
        }

    def argv(self) -> Sequence[str]:
        return [
            self.peer.bin("gunicorn"),
            "--preload",
            "--bind",
            f"{HOST}:{self.port}",
            "--threads",
            PROXPI_THREADS,
            "proxpi.server:app",
        ]


class Pypiserver(PeerServer):
    """pypiserver's WSGI app under gunicorn as its README shows (``gunicorn -w4
    'pypiserver:app(root=...)'``): no authentication, sha256 link fragments, and the
    watchdog-cached directory backend (``pypiserver[cache]``, its advice for thousands of files).
    """

    name = "pypiserver"

    def __init__(self, root: Path, packages: Path, environ: Mapping[str, str]) -> None:
        super().__init__(PYPISERVER, root, environ)
        self.packages = packages

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple/"

    @property
    def ready_url(self) -> str:
        return self.base_url + "/health"

    def argv(self) -> Sequence[str]:
        app = (
            f"pypiserver:app(roots=[{str(self.packages)!r}], authenticate=[], "
            "password_file='.', hash_algo='sha256')"
        )
        return [
            self.peer.bin("gunicorn"),
            "--workers",
            PYPISERVER_WORKERS,
            "--bind",
            f"{HOST}:{self.port}",
            app,
        ]
