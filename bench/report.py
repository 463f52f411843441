"""How results are shown and kept: a plain-text table for the terminal and a JSON file under
``bench/results/`` (not committed) holding every sample and the machine facts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import Summary

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a named scenario, its samples, and what it is compared with."""

    name: str
    summary: Summary
    baseline: Summary | None = None

    @property
    def ratio(self) -> float | None:
        """Median seconds over the baseline's median seconds (below 1 is faster)."""
        if self.baseline is None:
            return None
        return self.summary.median / self.baseline.median

    @property
    def ratio_of_minimums(self) -> float | None:
        """Minimum over the baseline's minimum: the least disturbed by a busy machine."""
        if self.baseline is None:
            return None
        return self.summary.minimum / self.baseline.minimum


HEADERS = (
    "scenario",
    "runs",
    "median s",
    "min s",
    "ratio (median)",
    "ratio (min)",
    "uv cpu s",
    "server cpu s",
    "upstream req",
)


def render_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table; the ratio column is blank for the baseline."""
    cells = [HEADERS]
    for row in rows:
        cells.append(
            (
                row.name,
                str(len(row.summary.samples)),
                f"{row.summary.median:.3f}",
                f"{row.summary.minimum:.3f}",
                _ratio(row.ratio),
                _ratio(row.ratio_of_minimums),
                f"{row.summary.median_client_cpu:.2f}",
                f"{row.summary.median_server_cpu:.2f}",
                f"{row.summary.median_upstream_requests:g}",
            )
        )
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADERS))]
    lines = []
    for number, line in enumerate(cells):
        first = line[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def row_data(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "seconds": [sample.seconds for sample in row.summary.samples],
        "client_cpu_seconds": [sample.client_cpu for sample in row.summary.samples],
        "server_cpu_seconds": [sample.server_cpu for sample in row.summary.samples],
        "upstream_cpu_seconds": [sample.upstream_cpu for sample in row.summary.samples],
        "upstream_requests": [sample.upstream_requests for sample in row.summary.samples],
        "median_seconds": row.summary.median,
        "min_seconds": row.summary.minimum,
        "ratio_of_medians": row.ratio,
        "ratio_of_minimums": row.ratio_of_minimums,
    }


def write_results(
    directory: Path, scenario: str, rows: Sequence[Row], facts: Mapping[str, Any]
) -> Path:
    """Write ``<scenario>-<UTC time>.json`` into ``directory``; returns its path."""
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}-{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    document = {
        "scenario": scenario,
        "finished_at": now.isoformat(),
        **facts,
        "rows": [row_data(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
