"""The suite's one table (every metric for every server, with Stilton's ratios to it), the bars
Stilton is held to, and the JSON document that keeps every figure of every run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import (
    PEAK_RSS,
    UV_COLD,
    UV_WARM,
    Figure,
    Median,
    Metric,
    summarize,
)

STILTONS = ("stilton proxy", "stilton hosted")
PYTHON_PEERS = ("devpi", "proxpi", "pypiserver")
REFERENCE = "nginx"
HEADERS = ("metric", "server", "median", "unit", "p99 ms", "ok runs", "proxy ÷", "hosted ÷", "note")

# Figures of every run: server -> metric -> one figure per run.
Runs = dict[str, dict[Metric, list[Figure]]]


@dataclass(frozen=True, slots=True)
class Bar:
    """One goal from the issue and how each Stilton fares against it."""

    goal: str
    results: tuple[tuple[str, str], ...]  # (stilton, "met 1.23x" / "missed 0.40x (...)")


def medians(runs: Runs) -> dict[str, dict[Metric, Median]]:
    return {
        server: {metric: summarize(figures) for metric, figures in metrics.items()}
        for server, metrics in runs.items()
    }


def ratio(stilton: Median | None, other: Median | None) -> float | None:
    """Stilton's median over the other's (same unit): above 1 is better for rates, below 1 for
    seconds and megabytes."""
    if stilton is None or other is None or stilton.value is None or not other.value:
        return None
    return stilton.value / other.value


def _cell(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if value >= 100 else f"{value:.{max(digits, 2)}f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def render_table(table: Mapping[str, Mapping[Metric, Median]], metrics: Sequence[Metric]) -> str:
    """One row per metric and server; Stilton's ratio to that server in the last columns."""
    cells = [HEADERS]
    for metric in metrics:
        for server, row in table.items():
            median = row.get(metric)
            if median is None:
                continue
            proxy, hosted = (table.get(name, {}).get(metric) for name in STILTONS)
            cells.append(
                (
                    metric.key,
                    server,
                    _cell(median.value),
                    metric.unit.value,
                    _cell(median.p99_ms, 2),
                    f"{len(median.values)}/{len(median.figures)}",
                    "" if server == STILTONS[0] else _ratio(ratio(proxy, median)),
                    "" if server == STILTONS[1] else _ratio(ratio(hosted, median)),
                    median.note,
                )
            )
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADERS) - 1)]
    lines = []
    for number, line in enumerate(cells):
        left = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(line[2:-1], widths[2:], strict=True)]
        lines.append("  ".join([*left, *right, line[-1]]).rstrip())
        if number == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 4))
    return "\n".join(lines)


def _worst(
    table: Mapping[str, Mapping[Metric, Median]],
    stilton: str,
    metrics: Sequence[Metric],
    others: Sequence[str],
    pick_best_other: bool,
) -> tuple[float, str] | None:
    """The smallest ratio of ``stilton`` to the best of ``others`` over ``metrics`` (rates)."""
    worst: tuple[float, str] | None = None
    for metric in metrics:
        candidates = [
            (table[name][metric], name)
            for name in others
            if name in table and metric in table[name] and table[name][metric].value
        ]
        if not candidates:
            continue
        if pick_best_other:
            candidates = [max(candidates, key=lambda item: item[0].value or 0.0)]
        for other, name in candidates:
            value = ratio(table.get(stilton, {}).get(metric), other)
            if value is not None and (worst is None or value < worst[0]):
                worst = (value, f"{metric.key} vs {name}")
    return worst


def _verdict(found: tuple[float, str] | None, threshold: float, higher: bool) -> str:
    if found is None:
        return "not measured"
    value, where = found
    met = value >= threshold if higher else value <= threshold
    return f"{'met' if met else 'MISSED'} {value:.2f}x (worst: {where})"


def bars(table: Mapping[str, Mapping[Metric, Median]], metrics: Sequence[Metric]) -> list[Bar]:
    """The issue's bars, each judged for both Stiltons on its worst case."""
    pages = [metric for metric in metrics if metric.key.startswith("page ")]
    files = [metric for metric in metrics if metric.key.startswith("file ")]
    found: dict[str, list[tuple[str, str]]] = {}
    for stilton in STILTONS:
        if stilton not in table:
            continue
        rows = table[stilton]
        checks = {
            "warm pages >= 20x the fastest Python peer": _verdict(
                _worst(table, stilton, pages, PYTHON_PEERS, True), 20.0, True
            ),
            "warm pages >= 0.5x nginx": _verdict(
                _worst(table, stilton, pages, [REFERENCE], False), 0.5, True
            ),
            "warm files >= 0.8x nginx": _verdict(
                _worst(table, stilton, files, [REFERENCE], False), 0.8, True
            ),
            "uv install warm <= 1.10x nginx": _time_verdict(table, rows, UV_WARM, 1.10),
            "uv install cold <= 1.50x nginx": _time_verdict(table, rows, UV_COLD, 1.50),
            "uv install cold faster than every peer": _cold_vs_peers(table, rows),
            "peak RSS under page load < 150 MB": _rss_verdict(rows.get(PEAK_RSS)),
        }
        for goal, verdict in checks.items():
            found.setdefault(goal, []).append((stilton, verdict))
    return [Bar(goal, tuple(results)) for goal, results in found.items()]


def _time_verdict(
    table: Mapping[str, Mapping[Metric, Median]],
    rows: Mapping[Metric, Median],
    metric: Metric,
    limit: float,
) -> str:
    # "Straight from nginx" is nginx's warm install: a static server has no cold state.
    value = ratio(rows.get(metric), table.get(REFERENCE, {}).get(UV_WARM))
    return _verdict(None if value is None else (value, f"vs nginx {UV_WARM.key}"), limit, False)


def _cold_vs_peers(
    table: Mapping[str, Mapping[Metric, Median]], rows: Mapping[Metric, Median]
) -> str:
    worst: tuple[float, str] | None = None
    for peer in PYTHON_PEERS:
        value = ratio(rows.get(UV_COLD), table.get(peer, {}).get(UV_COLD))
        if value is not None and (worst is None or value > worst[0]):
            worst = (value, f"vs {peer}")
    return _verdict(worst, 0.999, False)


def _rss_verdict(median: Median | None) -> str:
    if median is None or median.value is None:
        return "not measured"
    met = median.value < 150
    return f"{'met' if met else 'MISSED'} {median.value:.0f} MB"


def render_bars(found: Sequence[Bar]) -> str:
    lines = ["bars (ratios are Stilton ÷ the other; seconds: lower is better):"]
    for bar in found:
        lines.append(f"  {bar.goal}")
        lines += [f"    {stilton}: {verdict}" for stilton, verdict in bar.results]
    return "\n".join(lines)


def write_results(
    directory: Path,
    runs: Runs,
    metrics: Sequence[Metric],
    found: Sequence[Bar],
    facts: Mapping[str, Any],
) -> Path:
    """Write ``suite-<UTC time>.json``: every figure of every run, the medians and the bars."""
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"suite-{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    table = medians(runs)
    document = {
        "scenario": "suite",
        "finished_at": now.isoformat(),
        **facts,
        "metrics": [{"key": m.key, "unit": m.unit.value} for m in metrics],
        "servers": {
            server: {
                metric.key: {
                    "median": table[server][metric].value,
                    "p99_ms": table[server][metric].p99_ms,
                    "runs": [asdict(figure) for figure in figures],
                }
                for metric, figures in rows.items()
            }
            for server, rows in runs.items()
        },
        "bars": [{"goal": bar.goal, "results": dict(bar.results)} for bar in found],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
