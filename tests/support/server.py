"""A real ``stilton serve`` process for tests: a free loopback port, a private data directory,
readiness polling, and shutdown that touches only the process group it started.

Nothing here imports pytest, so any test directory or benchmark can start a server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"
READY_PATH = "/-/ready"
LOG_TAIL_CHARS = 8000


class ServerError(RuntimeError):
    """The server process could not be started, or a CLI command against its data failed."""

    def __init__(self, reason: str, *, returncode: int | None, log: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.returncode = returncode
        self.log = log

    def __str__(self) -> str:
        tail = self.log[-LOG_TAIL_CHARS:]
        return f"{self.reason} (exit code {self.returncode})\n--- output ---\n{tail}"


def find_free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def stilton_command() -> list[str]:
    """How to run the ``stilton`` CLI from the interpreter running the tests."""
    script = Path(sys.executable).parent / "stilton"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "stilton"]


# The default "pypi" proxy of a test server points at a closed local port, so no test reaches a
# real index unless it asks to (the live tests pass ``default_upstream=None``).
CLOSED_UPSTREAM = "http://127.0.0.1:9/simple/"


def server_environ(base: Mapping[str, str], default_upstream: str | None) -> dict[str, str]:
    """``base`` without any ``STILTON_*`` settings, so only our arguments configure the server."""
    environ = {key: value for key, value in base.items() if not key.startswith("STILTON_")}
    if default_upstream is not None:
        environ["STILTON_DEFAULT_UPSTREAM"] = default_upstream
    return environ


class StiltonServer:
    """One ``stilton serve`` subprocess with its data under ``root/data`` and its log beside it."""

    def __init__(
        self,
        root: Path,
        *,
        port: int | None = None,
        ready_timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
        default_upstream: str | None = CLOSED_UPSTREAM,
        workers: int | None = 1,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """``settings`` are Stilton settings by name (``{"workers": "2"}``), passed as
        ``STILTON_*`` variables."""
        self.root = root
        self.workers = workers  # `stilton serve --workers N`; None leaves the server's default
        self.data_dir = root / "data"
        self.log_path = root / "server.log"
        self.port = port if port is not None else find_free_port()
        self.ready_timeout = ready_timeout
        self._environ = server_environ(os.environ if environ is None else environ, default_upstream)
        self._environ.update({f"STILTON_{k.upper()}": v for k, v in (settings or {}).items()})
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    def index_url(self, index: str = "local") -> str:
        """The simple-API base URL of ``index`` (what installers take as ``--index-url``)."""
        return f"{self.url}/{index}/simple/"

    def upload_url(self, index: str = "local") -> str:
        """The legacy upload URL of ``index`` (what uploaders take as the repository URL)."""
        return f"{self.url}/{index}/"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def read_log(self, *, current_run: bool = False) -> str:
        """The server's output: all of it, or only what the latest start produced."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset if current_run else 0)
            return log.read().decode(errors="replace")

    def start(self) -> None:
        """Start the process and return once ``/-/ready`` answers 200."""
        if self._process is not None:
            raise RuntimeError("the server is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            *stilton_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *(["--workers", str(self.workers)] if self.workers is not None else []),
        ]
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            # A session of its own makes the process the leader of a group holding only what it
            # spawns (Granian's workers), so kill() can end the whole tree and nothing else.
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environ,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while time.monotonic() < deadline:
                returncode = self._process.poll()
                if returncode is not None:
                    self._process = None
                    raise ServerError(
                        "stilton serve exited before it was ready",
                        returncode=returncode,
                        log=self.read_log(current_run=True),
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + READY_PATH).status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"stilton serve was not ready at {self.url}{READY_PATH} "
            f"within {self.ready_timeout:.0f} s",
            returncode=None,
            log=self.read_log(current_run=True),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server, wait for it, then SIGKILL whatever of its group is left."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self._kill_group(process)

    def terminate(self, timeout: float) -> bool:
        """SIGTERM the server (its graceful stop) and wait up to ``timeout`` seconds: whether
        it stopped in that time. One that did not is left for ``stop``."""
        process = self._process
        if process is None:
            return True
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._kill_group(process)  # nothing of its group outlives it
        return True

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: a crash, for recovery tests."""
        process = self._process
        if process is None:
            return
        self._kill_group(process)

    def _kill_group(self, process: subprocess.Popen[bytes]) -> None:
        # The group id is the pid of the process we started (start_new_session=True).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data directory."""
        self.stop()
        self.start()

    def cli(
        self, *args: str, check: bool = True, timeout: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``stilton ARGS`` against this server's data directory (``STILTON_DATA_DIR``),
        with ``stdin`` as its input (none by default)."""
        environ = {**self._environ, "STILTON_DATA_DIR": str(self.data_dir)}
        completed = subprocess.run(
            [*stilton_command(), *args],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            env=environ,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise ServerError(
                f"stilton {' '.join(args)} failed",
                returncode=completed.returncode,
                log=completed.stdout + completed.stderr,
            )
        return completed

    def create_token(self, index: str = "local") -> str:
        """A new upload token for ``index``, from ``stilton token create``."""
        completed = self.cli("token", "create", "--index", index, "--data-dir", str(self.data_dir))
        lines = completed.stdout.strip().splitlines()
        if not lines or not lines[-1].strip():
            raise ServerError(
                "stilton token create printed no token",
                returncode=completed.returncode,
                log=completed.stdout + completed.stderr,
            )
        return lines[-1].strip()

    def create_index(self, name: str, kind: str = "hosted") -> None:
        self.cli("index", "create", name, "--kind", kind, "--data-dir", str(self.data_dir))

    def __enter__(self) -> StiltonServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
