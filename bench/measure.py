"""How a benchmark measures: the machine it runs on, the installer (uv) in a clean environment,
a fresh virtual environment per install, and wall-clock seconds of the install alone.

Only the installer's own run is timed; making the venv and starting servers are not.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PINNED_UV_VERSION = "0.13.9"
INSTALL_TIMEOUT = 900.0  # seconds for one install
# Settings that would let the machine's configuration reach the installer.
SCRUBBED_PREFIXES = ("UV_", "PIP_", "STILTON_")
SCRUBBED_NAMES = frozenset({"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX", "NETRC"})
PROXY_NAMES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
MEMORY_DIR = Path("/dev/shm")
INSTALL_SCRATCH_BYTES = 4 * 2**30  # room for a venv of the large corpus and its unpacked wheels


class MeasureError(RuntimeError):
    """The installer failed; the message carries the command and its output."""


@dataclass(frozen=True, slots=True)
class Uv:
    """The uv executable used for every install, and the version it reports."""

    path: str
    version: str

    @property
    def pinned(self) -> bool:
        return self.version == PINNED_UV_VERSION


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed install: wall-clock seconds; CPU seconds of the installer, of the server it
    talked to and of the static upstream; and the requests the upstream served."""

    seconds: float
    client_cpu: float
    server_cpu: float
    upstream_cpu: float
    upstream_requests: int


@dataclass(frozen=True, slots=True)
class Summary:
    """The samples of one scenario and their median and minimum."""

    samples: tuple[Sample, ...]

    @property
    def median(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples)

    @property
    def minimum(self) -> float:
        return min(sample.seconds for sample in self.samples)

    @property
    def median_client_cpu(self) -> float:
        return statistics.median(sample.client_cpu for sample in self.samples)

    @property
    def median_server_cpu(self) -> float:
        return statistics.median(sample.server_cpu for sample in self.samples)

    @property
    def median_upstream_requests(self) -> float:
        return statistics.median(sample.upstream_requests for sample in self.samples)


@dataclass(frozen=True, slots=True)
class Timing:
    """What one install cost the installer: wall-clock and CPU seconds."""

    seconds: float
    cpu: float


def clean_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without installer, interpreter or proxy settings (all traffic is loopback)."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(SCRUBBED_PREFIXES)
        and key not in SCRUBBED_NAMES
        and key.lower() not in PROXY_NAMES
    }


def install_scratch(prefix: str) -> Path | None:
    """A new directory in memory (tmpfs) for the installs' venvs and the installer's own
    temporary files, where the machine has one with room; else None (the work directory).

    An install writes and a run deletes ~20,000 files. On a filesystem whose inode allocator
    slows down after mass deletions (ext4 without a journal checks every recently deleted
    inode), that kernel work took 6-12 s of system CPU per install and grew run after run,
    for direct and proxied installs alike, on the two cores the server needs too. In memory
    an install of the large corpus takes ~1.4 s, run after run.
    """
    try:
        if os.statvfs(MEMORY_DIR).f_bavail * os.statvfs(MEMORY_DIR).f_frsize < (
            INSTALL_SCRATCH_BYTES
        ):
            return None
        return Path(tempfile.mkdtemp(prefix=prefix, dir=MEMORY_DIR))
    except OSError:
        return None


def find_uv(environ: Mapping[str, str], explicit: str | None = None) -> Uv:
    """``explicit``, else the uv that ``uv run`` announces in ``$UV``, else the first on PATH."""
    path = explicit or environ.get("UV") or shutil.which("uv", path=environ.get("PATH"))
    if path is None:
        raise MeasureError("uv is not on PATH; pass --uv")
    completed = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    found = re.search(r"uv (\S+)", completed.stdout)
    return Uv(path, found.group(1) if found else completed.stdout.strip())


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def machine_facts(uv: Uv) -> dict[str, str | int | float]:
    """What the numbers depend on: cores, CPU, load, OS, Python and uv."""
    return {
        "cores": os.cpu_count() or 0,
        "load_1min": round(os.getloadavg()[0], 2),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uv": uv.version,
        "uv_path": uv.path,
    }


def _parent_pids() -> dict[int, int]:
    """Every process's parent, read from ``/proc`` (empty where there is no ``/proc``)."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.parent.name)] = int(fields[1])
    return parents


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for child, parent in _parent_pids().items():
        children.setdefault(parent, []).append(child)
    found = []
    pending = [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) spent so far by ``pid`` and its descendants, from ``/proc``;
    0.0 where ``/proc`` is missing."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # proc(5): utime, stime, cutime, cstime are fields 14-17 (11-14 after the name).
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_completed(
    argv: Sequence[str | Path], environ: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, whatever its exit code; raise only if it times out."""
    command = [str(arg) for arg in argv]
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(environ),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MeasureError(f"{command[0]} timed out after {timeout:.0f} s") from exc


def run_tool(
    argv: Sequence[str | Path],
    environ: Mapping[str, str],
    cwd: Path,
    timeout: float = INSTALL_TIMEOUT,
) -> str:
    """Run a command to completion; return its output, or raise with it on failure."""
    command = [str(arg) for arg in argv]
    completed = run_completed(command, environ, cwd, timeout)
    if completed.returncode != 0:
        raise MeasureError(
            f"{' '.join(command)} exited {completed.returncode}\n"
            f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n{completed.stderr}"
        )
    return completed.stdout + completed.stderr


def make_venv(uv: Uv, venv: Path, environ: Mapping[str, str]) -> Path:
    """A fresh virtual environment at ``venv`` for this interpreter; returns its python."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    run_tool(
        [uv.path, "venv", "--no-config", "--no-cache", "--python", sys.executable, venv],
        environ,
        venv.parent,
    )
    return venv / "bin" / "python"


def uv_install_argv(uv: Uv, python: Path, requirements: Path, index_url: str) -> list[str]:
    """``uv pip install --no-cache`` of ``requirements`` from ``index_url`` into ``python``."""
    return [
        uv.path,
        "pip",
        "install",
        "--no-config",
        "--no-cache",
        "--python",
        str(python),
        "--index-url",
        index_url,
        "-r",
        str(requirements),
    ]


def timed_install(
    uv: Uv,
    python: Path,
    requirements: Path,
    index_url: str,
    environ: Mapping[str, str],
    expected_packages: int,
    timeout: float = INSTALL_TIMEOUT,
) -> Timing:
    """What ``uv pip install --no-cache`` of ``requirements`` from one index costs uv."""
    argv = uv_install_argv(uv, python, requirements, index_url)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    output = run_tool(argv, environ, requirements.parent, timeout)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    # A run that installed less than the whole corpus would be fast for the wrong reason.
    found = re.search(r"Installed (\d+) package", output)
    if found is None or int(found.group(1)) != expected_packages:
        raise MeasureError(f"expected {expected_packages} packages installed:\n{output}")
    return Timing(elapsed, cpu)


def _children_cpu() -> float:
    """CPU seconds of all children this process has waited for (the installer, once it ends)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
