"""Operating figures, printed (never asserted): Simple API pages per second with the request log
on and off, and with the metrics off too (wrk on a cached page, runs interleaved so drift hits
each alike); ``stilton verify``
throughput over a store of real wheels; and the command line's start-up time.

    uv run python -m bench ops                  # everything (~2 min)
    uv run python -m bench ops --seconds 10 --runs 5
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import find_wrk, run_wrk
from bench.measure import process_tree_cpu
from tests.support.dists import Dist, write_wheel
from tests.support.server import StiltonServer, stilton_command

SCENARIO = "ops"
PAGE_HEADERS = {"Accept": "application/vnd.pypi.simple.v1+json", "Accept-Encoding": "gzip"}
CLI_COMMANDS = (("--help",), ("index", "--help"), ("mirror", "--help"), ("verify", "--help"))
Print = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Options:
    runs: int = 3
    seconds: float = 5.0
    workers: int = 2
    verify_files: int = 400
    verify_padding: int = 256 * 1024  # bytes of incompressible filler per wheel


# What each measured server runs with: the request log on or off, and, as a floor, neither
# the request log nor the metrics.
CONFIGS = {
    "on": {"access_log": "true"},
    "off": {"access_log": "false"},
    "bare": {"access_log": "false", "metrics_access": "off"},
}


def pages_per_second(options: Options, environ: dict[str, str], say: Print) -> dict[str, float]:
    wrk = find_wrk(environ)
    if wrk is None:
        say("wrk is not installed (apt-get install wrk): no page figures")
        return {}
    rates: dict[str, list[float]] = {label: [] for label in CONFIGS}
    cost: dict[str, list[float]] = {label: [] for label in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="stilton-bench-ops-") as scratch:
        wheels = Path(scratch) / "wheels"
        write_wheel(Dist("bench-logged", "1.0"), wheels)
        for run in range(options.runs):
            for label in list(CONFIGS)[:: 1 if run % 2 == 0 else -1]:
                root = Path(scratch) / f"{label}-{run}"
                settings = CONFIGS[label]
                with StiltonServer(root, workers=options.workers, settings=settings) as server:
                    server.cli("import", str(wheels))
                    url = server.index_url("local") + "bench-logged/"
                    run_wrk(wrk, url, PAGE_HEADERS, 1, environ)  # rendered, then cached
                    assert server.pid is not None
                    began = process_tree_cpu(server.pid)
                    result = run_wrk(wrk, url, PAGE_HEADERS, options.seconds, environ)
                    spent = process_tree_cpu(server.pid) - began
                    lines = server.read_log().count("stilton.access")
                served = result.requests_per_second * options.seconds
                rates[label].append(result.requests_per_second)
                cost[label].append(spent / served * 1e6)
                say(f"  {label:4} {result.requests_per_second:9,.0f} pages/s"
                    f"  {spent / served * 1e6:5.1f} µs of server CPU each"
                    f"  (p99 {result.p99_ms:.1f} ms, {lines:,} log lines)")  # fmt: skip
    medians = {label: statistics.median(values) for label, values in rates.items()}
    cpu = {label: statistics.median(values) for label, values in cost.items()}
    say(
        f"server CPU per page, median: request log on {cpu['on']:.1f} µs, off {cpu['off']:.1f} µs,"
        f" without metrics either {cpu['bare']:.1f} µs"
    )
    say(
        f"pages/s, median of {options.runs}: request log on {medians['on']:,.0f},"
        f" off {medians['off']:,.0f} ({medians['on'] / medians['off'] - 1:+.1%});"
        f" without metrics either {medians['bare']:,.0f}"
    )
    return medians


def verify_throughput(options: Options, say: Print) -> None:
    with tempfile.TemporaryDirectory(prefix="stilton-bench-verify-") as scratch:
        wheels = Path(scratch) / "wheels"
        for number in range(options.verify_files):
            dist = Dist(f"bench-verify-{number}", "1.0", padding=options.verify_padding)
            write_wheel(dist, wheels)
        server = StiltonServer(Path(scratch))
        server.data_dir.mkdir(parents=True)
        server.cli("import", str(wheels), timeout=600)
        completed = server.cli("verify", timeout=600)
    summary = completed.stdout.strip().splitlines()[-1]
    say(f"stilton verify: {summary}")


def cli_start(options: Options, say: Print) -> None:
    for args in CLI_COMMANDS:
        times = []
        for _ in range(max(5, options.runs)):
            began = time.perf_counter()
            subprocess.run([*stilton_command(), *args], capture_output=True, check=True, timeout=60)
            times.append(time.perf_counter() - began)
        say(f"stilton {' '.join(args)}: median {statistics.median(times):.3f} s,"
            f" best {min(times):.3f} s")  # fmt: skip
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import stilton.cli.main"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    total = int(imports.stderr.strip().splitlines()[-1].split("|")[1])
    say(f"import stilton.cli.main (python -X importtime): {total / 1000:.0f} ms cumulative")


def run(options: Options, environ: dict[str, str], say: Print) -> None:
    say(f"== Simple API page, {options.workers} workers, wrk {options.seconds:g} s per run")
    pages_per_second(options, environ, say)
    size = options.verify_padding // 1024
    say(f"== stilton verify, {options.verify_files} wheels of ~{size} KiB")
    verify_throughput(options, say)
    say("== command line start-up")
    cli_start(options, say)
