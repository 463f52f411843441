"""The ``realsize`` table, its ratios and findings, and its JSON file: rows of installs over the
runs (failed runs counted and shown with their reason, never dropped), then cold ÷ direct, first
warm ÷ best warm and two workers ÷ one, then failures, requests for synthetic files and the
lines of Stilton's log that report errors.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.install_probe import Outcome, Tool

Run = dict[str, Outcome]  # one run's installs, by key
DIRECT = {Tool.UV: "uv direct", Tool.PIP: "pip direct"}
PEERS = ("proxpi", "devpi")  # peer proxies measured with uv, cold and one warm install
PROBLEM_LINES = 12  # distinct Stilton log messages shown
# A log record of an error, or the last line of a traceback (``module.SomeError: message``).
LOGGED_ERROR = re.compile(r"^(?:ERROR|CRITICAL) |^[\w.]+(?:Error|Exception)\b")


def server_key(tool: Tool, workers: int) -> str:
    return f"{tool} stilton w{workers}"


def cold_key(tool: Tool, workers: int) -> str:
    return f"{server_key(tool, workers)} cold"


def warm_key(tool: Tool, workers: int, number: int) -> str:
    return f"{server_key(tool, workers)} warm {number}"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a name and, per run that had it, one install."""

    name: str
    outcomes: tuple[Outcome, ...]

    @property
    def seconds(self) -> list[float]:
        return [o.seconds for o in self.outcomes if o.seconds is not None]

    @property
    def failures(self) -> int:
        return sum(1 for o in self.outcomes if o.failure is not None)

    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    def minimum(self) -> float | None:
        return min(self.seconds) if self.seconds else None


def best_warm(run: Run, prefix: str) -> Outcome | None:
    """The fastest successful warm install of a run (or its first warm one if none was);
    ``None`` where the run had fewer than two (the best of one is the first)."""
    warm = [outcome for key, outcome in run.items() if key.startswith(prefix + " warm ")]
    if len(warm) < 2:
        return None
    done = [outcome for outcome in warm if outcome.seconds is not None]
    if done:
        return min(done, key=lambda outcome: outcome.seconds or 0.0)
    return warm[0]


def pick(run: Run, name: str) -> Outcome | None:
    """The install of ``run`` that the row ``name`` shows."""
    if name.endswith(" warm best"):
        return best_warm(run, name.removesuffix(" warm best"))
    if name.endswith(" warm first"):
        return run.get(name.removesuffix(" first") + " 1")
    return run.get(name)


def build_rows(runs: Sequence[Run]) -> list[Row]:
    names = []
    for tool in Tool:
        names.append(DIRECT[tool])
        for workers in (1, 2):
            prefix = server_key(tool, workers)
            names += [f"{prefix} cold", f"{prefix} warm first", f"{prefix} warm best"]
    names += [f"{Tool.UV} {peer} {install}" for peer in PEERS for install in ("cold", "warm first")]
    rows = [
        Row(name, tuple(got for run in runs if (got := pick(run, name)) is not None))
        for name in names
    ]
    return [row for row in rows if row.outcomes]


HEADERS = (
    "install",
    "ok",
    "median s",
    "min s",
    "server cpu s",
    "peak rss MB",
    "pages up",
    "per page",
    "HTTP errors seen",
    "server 5xx logged",
)


def _seconds(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def _fetches(row: Row, pages: int) -> tuple[str, str]:
    """Distinct pages fetched upstream (median over runs, of all pages) and the fewest and most
    fetches of one page."""
    fetched = [len(o.traffic.page_fetches) for o in row.outcomes]
    counts = [n for o in row.outcomes for n in o.traffic.page_fetches.values()]
    spread = (
        "-"
        if not counts
        else f"{min(counts)}" + (f"-{max(counts)}" if max(counts) != min(counts) else "")
    )
    return f"{statistics.median(fetched):g}/{pages}", spread


def _statuses(row: Row) -> str:
    total: Counter[int] = Counter()
    for outcome in row.outcomes:
        total.update(outcome.statuses)
    return " ".join(f"{code}x{count}" for code, count in sorted(total.items())) or "-"


def _server_errors(row: Row) -> str:
    """Answers of 500 or more in the server's log (with how many were unexpected exceptions);
    blank for nginx and the peers, which Stilton's log does not cover."""
    if " stilton " not in row.name:
        return ""
    total = sum(o.server_errors.total for o in row.outcomes)
    unexpected = sum(o.server_errors.unexpected for o in row.outcomes)
    return f"{total} ({unexpected} unexpected)" if unexpected else str(total)


def row_cells(row: Row, pages: int) -> tuple[str, ...]:
    attempted = len(row.outcomes)
    return (
        row.name,
        f"{attempted - row.failures}/{attempted}",
        _seconds(row.median()),
        _seconds(row.minimum()),
        f"{statistics.median(o.server_cpu for o in row.outcomes):.1f}",
        f"{statistics.median(o.peak_rss for o in row.outcomes) / 1e6:.0f}",
        *_fetches(row, pages),
        _statuses(row),
        _server_errors(row),
    )


def render_table(rows: Sequence[Row], pages: int) -> str:
    cells = [HEADERS, *(row_cells(row, pages) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADERS))]
    lines = []
    for number, line in enumerate(cells):
        first = line[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _divide(top: float | None, bottom: float | None) -> str:
    return "    n/a" if top is None or bottom is None else f"{top / bottom:6.2f}x"


def _ratio(top: Row, bottom: Row) -> str:
    medians = _divide(top.median(), bottom.median())
    return f"{medians} median  {_divide(top.minimum(), bottom.minimum())} min"


def render_ratios(rows: Sequence[Row]) -> list[str]:
    by_name = {row.name: row for row in rows}
    lines = ["ratios"]
    for tool in Tool:
        w1, w2 = server_key(tool, 1), server_key(tool, 2)
        pairs = [
            (f"{w1} cold / {tool} direct", f"{w1} cold", DIRECT[tool]),
            (f"{w2} cold / {tool} direct", f"{w2} cold", DIRECT[tool]),
            (f"{w1} first warm / best warm", f"{w1} warm first", f"{w1} warm best"),
            (f"{w2} first warm / best warm", f"{w2} warm first", f"{w2} warm best"),
            (f"{tool} w2 / w1 cold", f"{w2} cold", f"{w1} cold"),
            (f"{tool} w2 / w1 best warm", f"{w2} warm best", f"{w1} warm best"),
        ]
        for peer in PEERS if tool is Tool.UV else ():
            cold, warm = f"{tool} {peer} cold", f"{tool} {peer} warm first"
            pairs += [
                (f"{peer} cold / {tool} direct", cold, DIRECT[tool]),
                (f"{peer} warm / {tool} direct", warm, DIRECT[tool]),
                (f"stilton w1 cold / {peer} cold", f"{w1} cold", cold),
                (f"stilton w2 cold / {peer} cold", f"{w2} cold", cold),
                (f"stilton w2 best warm / {peer} warm", f"{w2} warm best", warm),
            ]
        for label, top, bottom in pairs:
            if top in by_name and bottom in by_name:
                lines.append(f"  {label:<40} {_ratio(by_name[top], by_name[bottom])}")
    return lines


def render_findings(runs: Sequence[Run], problems: Sequence[str]) -> list[str]:
    """Every failure with its reason, every request for a synthetic file or 404 upstream, and
    the distinct error messages of Stilton's log."""
    lines = []
    for number, run in enumerate(runs, start=1):
        for key, outcome in run.items():
            if outcome.failure is not None:
                lines.append(f"FAILED  run {number} {key}: {outcome.failure}")
                lines += [f"          {tail}" for tail in outcome.output_tail.splitlines()[-4:]]
            traffic = outcome.traffic
            if traffic.synthetic:
                lines.append(
                    f"ERROR   run {number} {key}: {len(traffic.synthetic)} requests for "
                    f"synthetic files, e.g. {traffic.synthetic[0]}"
                )
            if traffic.not_found:
                lines.append(
                    f"ERROR   run {number} {key}: {len(traffic.not_found)} upstream 404s, "
                    f"e.g. {traffic.not_found[0]}"
                )
    for message, count in summarize_problems(problems):
        lines.append(f"LOG     {count:>5} x {message}")
    return lines


def summarize_problems(problems: Iterable[str]) -> list[tuple[str, int]]:
    """Stilton's logged errors and the exceptions of its tracebacks, counted with the project
    and numbers left out, most frequent first (a traceback's frames and code are left out)."""
    counted: Counter[str] = Counter()
    for problem in problems:
        server, _, line = problem.partition(": ")
        if not LOGGED_ERROR.match(line):
            continue
        line = re.sub(r"/simple/[^/\s]+/", "/simple/<project>/", line)
        line = re.sub(r"/files/[0-9a-f]{64}/[^\s:]+", "/files/<digest>/<file>", line)
        counted[f"{server}: {re.sub(r'[0-9]+', 'N', line)[:200]}"] += 1
    return counted.most_common(PROBLEM_LINES)


def render_report(runs: Sequence[Run], projects: Sequence[str], problems: Sequence[str]) -> str:
    rows = build_rows(runs)
    parts = [render_table(rows, len(projects)), "", *render_ratios(rows)]
    findings = render_findings(runs, problems)
    parts += ["", *(findings or ["no failed install, no request for a synthetic file"])]
    return "\n".join(parts)


def write_results(
    directory: Path,
    scenario: str,
    runs: Sequence[Run],
    projects: Sequence[str],
    facts: Mapping[str, Any],
) -> Path:
    """``<scenario>-<UTC time>.json`` in ``directory`` with every install of every run."""
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}-{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    rows = build_rows(runs)
    document = {
        "scenario": scenario,
        "finished_at": now.isoformat(),
        **facts,
        "projects": list(projects),
        "rows": {
            row.name: {
                "failed_runs": row.failures,
                "median_seconds": row.median(),
                "min_seconds": row.minimum(),
            }
            for row in rows
        },
        "runs": [{key: asdict(outcome) for key, outcome in run.items()} for run in runs],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
