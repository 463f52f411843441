"""One install, measured from outside: ``uv pip install`` or ``pip install`` of the corpus into a
fresh venv, timed, with the server's CPU seconds and peak memory (its whole process tree, from
``/proc``), what the static upstream served meanwhile (its access log), and what went wrong.

A failed install is an outcome like any other: it keeps its reason and the HTTP statuses the
installer reported, and is never dropped.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bench.clients import pip_install_argv
from bench.corpus import pip_environ
from bench.load import PeakRss
from bench.measure import (
    MeasureError,
    Uv,
    make_venv,
    process_tree_cpu,
    run_completed,
    uv_install_argv,
)
from bench.page_files import SYNTHETIC_PREFIX

REASON_CHARS = 300  # how much of an installer's error a failure keeps
# HTTP statuses as uv ("503 Service Unavailable") and pip ("HTTP error 503", "too many 503
# error responses") report them.
STATUS_PATTERNS = (
    re.compile(r"\b([1-5]\d\d) [A-Z][a-z]+"),
    re.compile(r"HTTP error ([1-5]\d\d)"),
    re.compile(r"too many ([1-5]\d\d) error"),
)
# What Stilton logs for an answer of 500 or more: its own errors with their message, and
# unexpected exceptions ("... failed", answered 500).
SERVER_ERROR = re.compile(r"^ERROR stilton\.web: [A-Z]+ \S+?(?P<unexpected> failed$|:)", re.M)
OUTPUT_TAIL_CHARS = 3000  # of a failed installer's output, kept in the JSON
PAGE_PATH = re.compile(r"^/simple/([^/]+)/(?:index\.(?:html|json))?$")


class Tool(StrEnum):
    """The installer of one install."""

    UV = "uv"
    PIP = "pip"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One request in nginx's access log (format ``$request $status $body_bytes_sent``)."""

    method: str
    path: str
    status: int


def read_from(path: Path | None, offset: int) -> str:
    """What ``path`` holds after byte ``offset`` (nothing if there is no such file)."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def log_size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0


def parse_access_log(text: str) -> list[LogLine]:
    """The requests of nginx's access log text."""
    lines = []
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) >= 5 and parts[-2].isdigit():
            lines.append(LogLine(parts[0], parts[1].split("?")[0], int(parts[-2])))
    return lines


@dataclass(frozen=True, slots=True)
class Traffic:
    """What the upstream served during one install."""

    requests: int = 0
    page_fetches: dict[str, int] = field(default_factory=dict)  # project → GETs of its page
    synthetic: list[str] = field(default_factory=list)  # paths of synthetic files asked for
    not_found: list[str] = field(default_factory=list)  # other 404s

    @classmethod
    def from_log(cls, lines: list[LogLine]) -> Traffic:
        pages: Counter[str] = Counter()
        synthetic, not_found = [], []
        for line in lines:
            page = PAGE_PATH.match(line.path)
            if page is not None and line.method == "GET":
                pages[page.group(1)] += 1
            elif line.path.startswith(f"/{SYNTHETIC_PREFIX}/"):
                synthetic.append(line.path)
            elif line.status == 404:
                not_found.append(line.path)
        return cls(len(lines), dict(pages), synthetic, not_found)


@dataclass(frozen=True, slots=True)
class ServerErrors:
    """Answers of 500 or more that the server logged: all of them, and the unexpected ones."""

    total: int = 0
    unexpected: int = 0

    @classmethod
    def from_log(cls, text: str) -> ServerErrors:
        found = [match.group("unexpected") for match in SERVER_ERROR.finditer(text)]
        return cls(len(found), sum(1 for kind in found if kind.endswith("failed")))


@dataclass(frozen=True, slots=True)
class Outcome:
    """One install: seconds (``None`` if it failed, with ``failure`` saying why), the HTTP
    statuses the installer reported, and what it cost the server and the upstream."""

    tool: Tool
    seconds: float | None
    failure: str | None
    statuses: dict[int, int]
    server_cpu: float
    peak_rss: int
    traffic: Traffic
    server_errors: ServerErrors = ServerErrors()
    output_tail: str = ""  # the end of a failed installer's output

    @classmethod
    def not_run(cls, tool: Tool, reason: str) -> Outcome:
        """An install that could not even start (its server did not)."""
        return cls(tool, None, reason, {}, 0.0, 0, Traffic())


@dataclass(frozen=True, slots=True)
class Installer:
    """How to run an install: the installer, its environment, the pins and their count."""

    uv: Uv
    environ: Mapping[str, str]
    requirements: Path
    expected_packages: int
    timeout: float


def reported_statuses(output: str) -> dict[int, int]:
    """The HTTP statuses an installer's output names, with how often (4xx and 5xx only)."""
    found: Counter[int] = Counter()
    for pattern in STATUS_PATTERNS:
        found.update(int(code) for code in pattern.findall(output) if int(code) >= 400)
    return dict(sorted(found.items()))


def failure_reason(output: str) -> str:
    """The installer's own words for a failure: its first error line and last cause."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "×"))]
    causes = [line for line in lines if line.startswith("Caused by:")]
    picked = (errors[:1] + causes[-1:]) or lines[-1:] or ["no output"]
    return " / ".join(picked)[:REASON_CHARS]


def installed_count(tool: Tool, output: str) -> int | None:
    if tool is Tool.UV:
        found = re.search(r"Installed (\d+) package", output)
        return int(found.group(1)) if found else None
    pip_found = re.search(r"^Successfully installed (.+)$", output, re.MULTILINE)
    return len(pip_found.group(1).split()) if pip_found else None


def _argv(installer: Installer, tool: Tool, python: Path, index_url: str) -> list[str]:
    if tool is Tool.UV:
        return uv_install_argv(installer.uv, python, installer.requirements, index_url)
    return pip_install_argv(python, installer.requirements, index_url)


def _run(installer: Installer, tool: Tool, argv: list[str]) -> tuple[float, str, str | None]:
    """Seconds, output and failure (``None`` if all went in) of one installer run."""
    environ = pip_environ(installer.environ) if tool is Tool.PIP else installer.environ
    started = time.perf_counter()
    try:
        completed = run_completed(argv, environ, installer.requirements.parent, installer.timeout)
    except MeasureError as exc:
        return time.perf_counter() - started, "", str(exc)
    elapsed = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        return elapsed, output, f"exit {completed.returncode}: {failure_reason(output)}"
    count = installed_count(tool, output)
    if count != installer.expected_packages:
        return elapsed, output, f"installed {count} of {installer.expected_packages} packages"
    return elapsed, output, None


def measure_install(
    installer: Installer,
    tool: Tool,
    venv: Path,
    index_url: str,
    server_pid: int,
    access_log: Path,
    server_log: Path | None = None,
) -> Outcome:
    """Install into a fresh ``venv`` from ``index_url``, watching the server ``server_pid``
    (and its log, where it has one)."""
    if venv.exists():
        shutil.rmtree(venv)
    python = make_venv(installer.uv, venv, installer.environ)
    offsets = log_size(access_log), log_size(server_log)
    cpu_before = process_tree_cpu(server_pid)
    with PeakRss(server_pid) as memory:
        seconds, output, failure = _run(installer, tool, _argv(installer, tool, python, index_url))
    return Outcome(
        tool=tool,
        seconds=None if failure else seconds,
        failure=failure,
        statuses=reported_statuses(output),
        server_cpu=process_tree_cpu(server_pid) - cpu_before,
        peak_rss=memory.peak,
        traffic=Traffic.from_log(parse_access_log(read_from(access_log, offsets[0]))),
        server_errors=ServerErrors.from_log(read_from(server_log, offsets[1])),
        output_tail=output[-OUTPUT_TAIL_CHARS:] if failure else "",
    )
