"""``python -m bench.ui``: the web interface's latency with many projects. A hosted index is
filled with N projects (50,000 by default) straight through the catalog, a real ``stilton
serve`` is started on it, and project pages, index pages and searches are timed over loopback.
Prints a table; asserts nothing."""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from stilton.core.names import normalize_project_name
from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.storage import catalog
from stilton.storage.schema import utcnow
from tests.support.server import CLOSED_UPSTREAM, StiltonServer

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
WORDS = ("data", "web", "async", "cloud", "parser", "client", "tools", "utils", "graph", "fast")


def project_name(n: int) -> str:
    return f"{WORDS[n % len(WORDS)]}-{WORDS[(n // 10) % len(WORDS)]}-pkg{n}"


def fill(data_dir: Path, count: int) -> None:
    """``count`` projects of one release and one wheel each (rows only: pages need no blob)."""
    settings = Settings.from_env({}, {"data_dir": data_dir, "default_upstream": CLOSED_UPSTREAM})
    runtime = open_runtime(settings)
    record = runtime.get_index_record("local")
    with runtime.database.begin() as connection:
        for n in range(count):
            name = normalize_project_name(project_name(n))
            project_id = catalog.ensure_project(connection, record, name, name)
            summary = f"A {WORDS[n % 7]} library for {WORDS[n % 9]} number {n}"
            info = {
                "name": name,
                "version": "1.0",
                "summary": summary,
                "description": f"# {name}\n",
            }
            release_id = catalog.ensure_release(connection, project_id, "1.0", info)
            sha = hashlib.sha256(name.encode()).hexdigest()
            catalog.insert_file(
                connection,
                {
                    "index_id": record.id, "project_id": project_id, "release_id": release_id,
                    "filename": f"{name.replace('-', '_')}-1.0-py3-none-any.whl",
                    "packagetype": "bdist_wheel", "python_version": "py3", "size": 1000,
                    "sha256": sha, "blake2b_256": sha, "md5": sha[:32], "upload_time": utcnow(),
                    "yanked": False,
                },
            )  # fmt: skip
            catalog.record_change(connection, record, name, "add file", actor="bench")
    runtime.close()


def timed(client: httpx.Client, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers=BROWSER)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {label:<38} | {statistics.median(times):>8.1f} | {p95:>8.1f} | {len(times):>4} |"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__)
    parser.add_argument("--projects", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        server = StiltonServer(Path(root))
        started = time.perf_counter()
        fill(server.data_dir, options.projects)
        print(f"filled {options.projects} projects in {time.perf_counter() - started:.0f} s")
        with server, httpx.Client(base_url=server.url, timeout=120) as client:
            started = time.perf_counter()
            client.get("/search", params={"q": "warm"}, headers=BROWSER)
            print(f"search index built in {time.perf_counter() - started:.1f} s (first search)")

            def spread(n: int) -> str:
                return project_name(n * 997 % options.projects)

            cases: list[tuple[str, Callable[[int], str]]] = [
                ("project page (a different one each time)", lambda n: f"/local/{spread(n)}/"),
                ("project page (the same, cached)", lambda n: f"/local/{project_name(7)}/"),
                ("index page, by name", lambda n: "/local/"),
                ("index page, by last upload, page 20", lambda n: "/local/?sort=upload&page=20"),
                ("search: exact name", lambda n: f"/search?q={spread(n + 1)}"),
                ("search: prefix", lambda n: f"/search?q={WORDS[n % 10]}-{WORDS[n % 7]}"),
                ("search: summary words", lambda n: f"/search?q={WORDS[n % 7]}+library"),
                ("search: typo (fuzzy)", lambda n: f"/search?q=pasrer-web-pkg{n * 7 + 3}"),
            ]  # fmt: skip
            print("| request                                | median ms | p95 ms | runs |")
            print("|---|---:|---:|---:|")
            for label, path in cases:
                times = []
                for n in range(options.runs):
                    times += timed(client, path(n), 1)
                print(row(label, times))


if __name__ == "__main__":
    main()
