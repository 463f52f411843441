"""How a benchmark measures: the machine it runs on, the installer (uv) in a clean environment,
a fresh virtual environment per install, and wall-clock seconds of the install alone.

Only the installer's own run is timed; making the venv and starting servers are not.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PINNED_UV_VERSION = "0.13.9"
INSTALL_TIMEOUT = 900.0  # seconds for one install
# Settings that would let the machine's configuration reach the installer.
SCRUBBED_PREFIXES = ("UV_", "PIP_", "STILTON_")
SCRUBBED_NAMES = frozenset(
    {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX", "NETRC", "SSL_CERT_FILE"}
)
PROXY_NAMES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


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
    """One timed install: seconds of wall clock, and requests the static upstream served."""

    seconds: float
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
    def median_upstream_requests(self) -> float:
        return statistics.median(sample.upstream_requests for sample in self.samples)


def clean_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without installer, interpreter or proxy settings (all traffic is loopback)."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(SCRUBBED_PREFIXES)
        and key not in SCRUBBED_NAMES
        and key.lower() not in PROXY_NAMES
    }


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


def machine_facts(uv: Uv) -> dict[str, str | int]:
    """What the numbers depend on: cores, CPU, OS, Python and uv."""
    return {
        "cores": os.cpu_count() or 0,
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uv": uv.version,
        "uv_path": uv.path,
    }


def run_tool(argv: Sequence[str | Path], environ: Mapping[str, str], cwd: Path) -> str:
    """Run a command to completion; return its output, or raise with it on failure."""
    command = [str(arg) for arg in argv]
    completed = subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(environ),
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
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


def timed_install(
    uv: Uv,
    python: Path,
    requirements: Path,
    index_url: str,
    environ: Mapping[str, str],
    expected_packages: int,
) -> float:
    """Seconds ``uv pip install --no-cache`` takes to install ``requirements`` from one index."""
    argv = [
        uv.path,
        "pip",
        "install",
        "--no-config",
        "--no-cache",
        "--python",
        python,
        "--index-url",
        index_url,
        "-r",
        requirements,
    ]
    started = time.perf_counter()
    output = run_tool(argv, environ, requirements.parent)
    elapsed = time.perf_counter() - started
    # A run that installed less than the whole corpus would be fast for the wrong reason.
    found = re.search(r"Installed (\d+) package", output)
    if found is None or int(found.group(1)) != expected_packages:
        raise MeasureError(f"expected {expected_packages} packages installed:\n{output}")
    return elapsed
