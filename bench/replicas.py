"""Scale-out: warm `uv pip install` time and project-page throughput through nginx in front of
one replica and in front of three, all on one PostgreSQL database and one bucket (moto's S3
server), everything on loopback. Prints each figure and the 3-replica/1-replica ratio; asserts
nothing. On a machine with few cores the replicas share them, so the ratio shows what the
layout costs there, not what more machines would give."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import find_wrk, run_wrk
from tests.support.backends import s3_backend
from tests.support.balancer import Balancer
from tests.support.clients import UV, Workspace, base_python
from tests.support.dists import Dist
from tests.support.postgres import PostgresServer
from tests.support.replicas import Replicas
from tests.support.s3 import S3Server
from tests.support.uploads import send_wheel

SCENARIO = "replicas"
PACKAGES = [Dist(f"bench-rep{n}", "1.0", padding=300_000) for n in range(20)]
APP = Dist("bench-rep-app", "1.0", requires_dist=tuple(d.name for d in PACKAGES))
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@dataclass(frozen=True, slots=True)
class Figures:
    install_seconds: float  # median of warm installs (server warm, client without a cache)
    pages_per_second: float


def _publish(url: str, token: str) -> None:
    with httpx.Client(trust_env=False, timeout=60) as client:
        for dist in [*PACKAGES, APP]:
            send_wheel(client, token, dist, base_url=url).raise_for_status()


def _install(workspace: Workspace, index_url: str) -> float:
    started = time.monotonic()
    workspace.tool(
        UV, "pip", "install", "--python", base_python(), "--target", workspace.directory("t"),
        "--index-url", index_url, "--no-cache", APP.name,
    )  # fmt: skip
    return time.monotonic() - started


def _measure(balancer: Balancer, root: Path, runs: int, seconds: float) -> Figures:
    index_url = f"{balancer.url}/local/simple/"
    _install(Workspace(root / "warm-up"), index_url)  # every replica's caches warmed
    times = [_install(Workspace(root / f"run{n}"), index_url) for n in range(runs)]
    wrk = find_wrk(os.environ)
    page = f"{index_url}{APP.name}/"
    if wrk is not None:
        rate = run_wrk(wrk, page, JSON, seconds, os.environ).requests_per_second
    else:
        rate = _python_load(page, seconds)
    return Figures(statistics.median(times), rate)


def _python_load(url: str, seconds: float) -> float:
    done, deadline = 0, time.monotonic() + seconds
    with httpx.Client(headers=JSON) as client:
        while time.monotonic() < deadline:
            client.get(url).raise_for_status()
            done += 1
    return done / seconds


def run(runs: int = 3, seconds: float = 5.0) -> dict[str, Figures]:
    root = Path(tempfile.mkdtemp(prefix="stilton-bench-replicas-"))
    postgres, s3 = PostgresServer(), S3Server()
    try:
        postgres.start()
        s3.start()
        backend = s3_backend("bench", postgres.create_database(), s3.endpoint, s3.create_bucket())
        with Replicas(root / "replicas", backend.server_settings(), workers=1) as replicas:
            _publish(replicas.url, replicas.servers[0].create_token())
            one = Balancer([replicas.servers[0].port])
            one.start()
            try:
                results = {"1 replica": _measure(one, root / "one", runs, seconds)}
            finally:
                one.stop()
            results["3 replicas"] = _measure(replicas.balancer, root / "three", runs, seconds)
    finally:
        s3.stop()
        postgres.stop()
    _print(results)
    return results


def _print(results: dict[str, Figures]) -> None:
    print(f"{'layout':<12} {'warm uv pip install (s)':>24} {'page (req/s)':>14}")
    for name, figures in results.items():
        print(f"{name:<12} {figures.install_seconds:>24.2f} {figures.pages_per_second:>14,.0f}")
    one, three = results["1 replica"], results["3 replicas"]
    print(
        f"ratio 3/1: install time {three.install_seconds / one.install_seconds:.2f},"
        f" page throughput {three.pages_per_second / one.pages_per_second:.2f}"
    )
