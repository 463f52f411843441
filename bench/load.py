"""Load on one URL: ``wrk`` for a bounded time against a loopback server, its throughput and
tail latency parsed from its report, and the peak memory of the server's process tree sampled
from ``/proc`` while the load runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.measure import process_tree

WRK_THREADS = 2
WRK_CONNECTIONS = 32
WRK_GRACE = 30.0  # seconds past the load's own duration before wrk is given up on
RSS_INTERVAL = 0.05  # seconds between two samples of the server's memory
UNITS = {"": 1.0, "B": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9}
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


class LoadError(RuntimeError):
    """wrk failed, or its report could not be read."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What wrk measured: requests and bytes per second, p99 latency, and failures seen."""

    requests_per_second: float
    bytes_per_second: float
    p99_ms: float
    errors: int


def find_wrk(environ: Mapping[str, str]) -> str | None:
    return shutil.which("wrk", path=environ.get("PATH"))


def _number(value: str, unit: str) -> float:
    return float(value) * UNITS[unit]


def parse_wrk(report: str) -> LoadResult:
    """Read wrk's ``--latency`` report (wrk 4.x)."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    transfer = re.search(r"^Transfer/sec:\s+([\d.]+)([KMG]?B)", report, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", report, re.MULTILINE)
    if rate is None or transfer is None or p99 is None:
        raise LoadError(f"could not read wrk's report:\n{report}")
    errors = sum(
        int(count)
        for count in re.findall(r"(?:connect|read|write|timeout) (\d+)", report)
        + re.findall(r"Non-2xx or 3xx responses: (\d+)", report)
    )
    return LoadResult(
        requests_per_second=float(rate.group(1)),
        bytes_per_second=_number(transfer.group(1), transfer.group(2)),
        p99_ms=float(p99.group(1)) * TIME_UNITS[p99.group(2)],
        errors=errors,
    )


def run_wrk(
    wrk: str,
    url: str,
    headers: Mapping[str, str],
    seconds: float,
    environ: Mapping[str, str],
    connections: int = WRK_CONNECTIONS,
) -> LoadResult:
    """``wrk -t2 -c<connections> -d<seconds>s --latency`` with ``headers`` against ``url``."""
    argv: list[str] = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    try:
        completed = subprocess.run(
            [*argv, url],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(environ),
            timeout=seconds + WRK_GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish within {seconds + WRK_GRACE:.0f} s") from exc
    if completed.returncode != 0:
        raise LoadError(f"wrk exited {completed.returncode}: {completed.stderr[-1000:]}")
    return parse_wrk(completed.stdout)


def _proc_kilobytes(path: str, field: str) -> int:
    try:
        text = Path(path).read_text()
    except OSError:
        return 0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def tree_rss_bytes(pids: Sequence[int]) -> int:
    """The summed resident memory (VmRSS) of ``pids`` right now; 0 for those gone. Pages
    shared between processes (a preforked server's workers) count once per process."""
    return sum(_proc_kilobytes(f"/proc/{pid}/status", "VmRSS") for pid in pids)


def tree_pss_bytes(pids: Sequence[int]) -> int:
    """The summed proportional set size of ``pids``: shared pages split between their users,
    so the sum is what the tree really holds."""
    return sum(_proc_kilobytes(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids)


class PeakRss:
    """Samples the resident memory of a process and all its descendants in a background thread
    while the ``with`` block runs; ``peak`` and ``peak_pss`` are the largest sums seen."""

    def __init__(self, pid: int, interval: float = RSS_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            pids = process_tree(self.pid)
            self.peak = max(self.peak, tree_rss_bytes(pids))
            self.peak_pss = max(self.peak_pss, tree_pss_bytes(pids))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Self:
        if os.path.isdir("/proc"):
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
