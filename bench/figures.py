"""The suite's vocabulary: the metrics measured on every server, a figure (one measurement, or
why there is none), and the median of a metric's figures over the runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    REQUESTS = "req/s"
    MEGABYTES_PER_SECOND = "MB/s"
    SECONDS = "s"
    MEGABYTES = "MB"

    @property
    def higher_is_better(self) -> bool:
        return self in (Unit.REQUESTS, Unit.MEGABYTES_PER_SECOND)


@dataclass(frozen=True, slots=True)
class Metric:
    """One line of the table for every server."""

    key: str
    unit: Unit


@dataclass(frozen=True, slots=True)
class PageLoad:
    """A project page asked for in one form: which project, JSON or HTML, gzip or identity."""

    size: str  # "small" or "big"
    project: str
    json: bool
    gzip: bool

    @property
    def metric(self) -> Metric:
        form = "json" if self.json else "html"
        return Metric(f"page {self.size} {form}{' gzip' if self.gzip else ''}", Unit.REQUESTS)


UV_COLD = Metric("uv install cold", Unit.SECONDS)
UV_WARM = Metric("uv install warm", Unit.SECONDS)
PIP_WARM = Metric("pip install warm", Unit.SECONDS)
POETRY_LOCK = Metric("poetry lock", Unit.SECONDS)
PEAK_RSS = Metric("peak RSS, page load", Unit.MEGABYTES)
PEAK_PSS = Metric("peak PSS, page load", Unit.MEGABYTES)
INSTALL_METRICS = (UV_COLD, UV_WARM, PIP_WARM, POETRY_LOCK)


def file_metric(label: str) -> Metric:
    return Metric(f"file {label}", Unit.MEGABYTES_PER_SECOND)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measurement (``value`` in the metric's unit, with wrk's p99 for loads), or ``None``
    and a note saying why (``failed: ...``, ``n/a: ...``). A note beside a value qualifies it."""

    value: float | None
    p99_ms: float | None = None
    note: str = ""

    @classmethod
    def failed(cls, reason: str) -> Figure:
        first_line = reason.strip().splitlines()[0] if reason.strip() else "unknown"
        return cls(None, note=f"failed: {first_line[:120]}")

    @classmethod
    def not_applicable(cls, reason: str) -> Figure:
        return cls(None, note=f"n/a: {reason}")


@dataclass(frozen=True, slots=True)
class Median:
    """A metric's figures for one server over the runs, summarized."""

    figures: tuple[Figure, ...]

    @property
    def values(self) -> list[float]:
        return [figure.value for figure in self.figures if figure.value is not None]

    @property
    def value(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def p99_ms(self) -> float | None:
        p99s = [figure.p99_ms for figure in self.figures if figure.p99_ms is not None]
        return statistics.median(p99s) if p99s else None

    @property
    def note(self) -> str:
        notes = sorted({figure.note for figure in self.figures if figure.note})
        return "; ".join(notes)


def summarize(figures: Sequence[Figure]) -> Median:
    return Median(tuple(figures))
