"""Prometheus metrics at ``/-/metrics``: requests by route kind and status with their latency,
the page cache's hits and misses, proxies' upstream requests, errors and bytes, single-flight
joins, each proxy's cache size, uploads and failed authentications.

With several workers each process counts into files under ``PROMETHEUS_MULTIPROC_DIR`` (made
afresh in the data directory by the supervising process) and a scrape adds them up; with one,
counts stay in memory. Who may read them is the setting ``metrics_access``
(``web/metrics_route.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from stilton.core.model import IndexKind
from stilton.core.urls import METADATA_SUFFIX
from stilton.runtime import Runtime
from stilton.storage import upstream_cache

# Seconds: a cache hit takes well under a millisecond, a cold proxy page or upload seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FIXED_ROUTES = {"/-/metrics": "metrics", "/-/health": "health", "/-/ready": "health"}
SECTIONS = frozenset({"simple", "+simple", "files", "pypi"})  # what follows /<index>/


def route_kind(method: str, path: str) -> str:
    """What a request asks for, by its path alone (so the labels stay few, whatever the path)."""
    parts = path.split("/")  # "/local/simple/x/" -> ["", "local", "simple", "x", ""]
    head = parts[1] if len(parts) > 1 else ""
    if head == "-":
        return FIXED_ROUTES.get(path, "ui")
    if head == "api":
        return "api"
    if method == "POST":
        return "upload" if head and [p for p in parts[2:] if p] in ([], ["legacy"]) else "ui"
    # /simple/... and /pypi/... are the default index's, unless an index is named so.
    second = parts[2] if len(parts) > 2 else ""
    at = 1 if head in ("simple", "pypi") and second not in SECTIONS else 2
    section = parts[at] if len(parts) > at else ""
    if section in ("simple", "+simple"):
        return "simple_page" if len(parts) > at + 1 and parts[at + 1] else "simple_list"
    if section == "files":
        return "metadata" if path.endswith(METADATA_SUFFIX) else "file"
    return "json_api" if section == "pypi" else "ui"


class Metrics:
    """Every instrument, in a registry of its own (an app's, not the process's)."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "stilton_requests", "HTTP requests answered", ["route", "status"], registry=reg
        )
        self.latency = Histogram(
            "stilton_request_duration_seconds", "Time to answer a request", ["route"],
            buckets=LATENCY_BUCKETS, registry=reg,
        )  # fmt: skip
        self.page_cache = Counter(
            "stilton_page_cache", "Simple API page lookups in the page cache", ["result"],
            registry=reg,
        )  # fmt: skip
        self.upstream_requests = Counter(
            "stilton_upstream_requests", "Requests proxies sent upstream, by answer",
            ["index", "status"], registry=reg,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "stilton_upstream_errors", "Upstream requests that failed", ["index", "kind"],
            registry=reg,
        )  # fmt: skip
        self.upstream_bytes = Counter(
            "stilton_upstream_received_bytes", "Bytes received from upstreams", ["index"],
            registry=reg,
        )  # fmt: skip
        self.upstream_healthy = Gauge(
            "stilton_upstream_healthy", "1 while a proxy's upstream is healthy, 0 while marked"
            " unhealthy (the least over workers)", ["index"], multiprocess_mode="livemin",
            registry=reg,
        )  # fmt: skip
        self.joins = Counter(
            "stilton_single_flight_joins", "Callers that shared work already running", ["what"],
            registry=reg,
        )  # fmt: skip
        self.uploads = Counter(
            "stilton_uploads", "Uploads, by outcome", ["index", "outcome"], registry=reg
        )
        self.auth_failures = Counter(
            "stilton_authentication_failures", "Credentials refused", ["reason"], registry=reg
        )
        self._by_route: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._hits = self.page_cache.labels("hit")
        self._misses = self.page_cache.labels("miss")

    # -- what the web layer counts ---------------------------------------------------------------

    def answered(self, method: str, path: str, status: int, seconds: float) -> None:
        """One request (RequestLog's observer); the labelled children are looked up once."""
        route = route_kind(method, path)
        children = self._by_route.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._by_route[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def page_cache_hit(self) -> None:
        self._hits.inc()

    def page_cache_miss(self) -> None:
        self._misses.inc()

    def uploaded(self, index: str, outcome: str) -> None:
        self.uploads.labels(index, outcome).inc()

    def authentication_failed(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    # -- Telemetry: what the indexes and the upstream client report -------------------------------

    def upstream_answered(self, index: str, status: int) -> None:
        self.upstream_requests.labels(index, str(status)).inc()

    def upstream_failed(self, index: str, kind: str) -> None:
        self.upstream_requests.labels(index, "error").inc()
        self.upstream_errors.labels(index, kind).inc()

    def upstream_received(self, index: str, size: int) -> None:
        self.upstream_bytes.labels(index).inc(size)

    def joined(self, what: str) -> None:
        self.joins.labels(what).inc()

    def upstream_health(self, index: str, healthy: bool) -> None:
        self.upstream_healthy.labels(index).set(1 if healthy else 0)

    # -- exposition ------------------------------------------------------------------------------

    def exposition(self, runtime: Runtime) -> bytes:
        """Every process's counts (added up over workers), and the proxies' cache sizes."""
        registry = CollectorRegistry()
        if self.multiprocess_dir is None:
            registry.register(self.registry)
        else:
            forget_dead_processes(self.multiprocess_dir)
            MultiProcessCollector(registry, str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        registry.register(ProxyCaches(runtime))
        return generate_latest(registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of workers that are gone. A worker that died left its values (an
    upstream it last saw unhealthy, say), and its replacement has a new pid: they would be
    shown until the server restarts (prometheus-client leaves this to the process manager)."""
    for path in directory.glob("gauge_live*_*.db"):
        found = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if found is not None and not _running(int(found.group(1))):
            mark_process_dead(int(found.group(1)), str(directory))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


class ProxyCaches(Collector):
    """Each proxy's kept files and their bytes, read from the database at scrape time (the
    same for every worker)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "stilton_proxy_cache_bytes", "Bytes of files a proxy keeps", labels=["index"]
        )
        count = GaugeMetricFamily(
            "stilton_proxy_cache_files", "Files a proxy keeps", labels=["index"]
        )
        records = [r for r in self.runtime.list_indexes() if r.kind is IndexKind.PROXY]
        with self.runtime.database.connect() as connection:
            for record in records:
                files, total = upstream_cache.cache_stats(connection, record)
                size.add_metric([record.name], total)
                count.add_metric([record.name], files)
        yield size
        yield count
