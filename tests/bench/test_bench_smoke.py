"""The benchmark harness without the network: the corpus lock files round-trip and are whole,
wrk's report and the static tree's JSON pages are read right, and the smoke runs of
``python -m bench proxy-install`` and ``python -m bench suite`` (tiny local wheels, one run, no
peers) print their tables and write their JSON. Nothing here asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypi_simple import ProjectPage

from bench.corpus import (
    LARGE_LOCK_PATH,
    LOCK_PATH,
    CorpusError,
    CorpusFile,
    parse_lock,
    render_lock,
    smoke_corpus,
)
from bench.figures import Figure, Metric, Unit
from bench.load import parse_wrk
from bench.servers import ServerKind, find_nginx
from bench.suite_report import Runs, medians, render_table
from bench.upstream import build_suite_tree

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT = 300  # seconds; a smoke run takes about ten
TABLE_HEADER = ("scenario", "median s", "min s", "ratio (median)", "ratio (min)")
ROWS = ("direct", "stilton cold", "stilton warm")


def test_lock_file_round_trips() -> None:
    files = (
        CorpusFile("six-1.17.0-py2.py3-none-any.whl", "a" * 64),
        CorpusFile("attrs-26.1.0-py3-none-any.whl", "b" * 64),
    )
    parsed = parse_lock(render_lock(files))
    assert parsed == tuple(sorted(files, key=lambda file: file.filename))
    assert [file.requirement for file in parsed] == ["attrs==26.1.0", "six==1.17.0"]


@pytest.mark.parametrize(
    "line", ["six-1.17.0-py2.py3-none-any.whl", "six-1.17.0.tar.gz sha256=" + "a" * 64]
)
def test_lock_file_rejects_a_line_without_a_wheel_and_its_hash(line: str) -> None:
    with pytest.raises(CorpusError, match="line 1"):
        parse_lock(line + "\n")


def test_committed_lock_names_about_forty_projects_once_each() -> None:
    files = parse_lock(LOCK_PATH.read_text())
    projects = [file.project for file in files]
    assert 35 <= len(projects) <= 50
    assert len(set(projects)) == len(projects)
    assert all(len(file.sha256) == 64 for file in files)


def run_smoke(results: Path, server: ServerKind) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "proxy-install",
            "--smoke",
            "--upstream-server",
            server.value,
            "--results-dir",
            str(results),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("server", [ServerKind.PYTHON, ServerKind.NGINX])
def test_smoke_run_prints_the_table_and_writes_the_json(tmp_path: Path, server: ServerKind) -> None:
    if server is ServerKind.NGINX and find_nginx(os.environ) is None:
        pytest.skip("nginx is not installed")
    completed = run_smoke(tmp_path, server)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    lines = completed.stdout.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    assert all(column in header for column in TABLE_HEADER)
    for name in ROWS:
        assert any(line.startswith(name + "  ") for line in lines), name
    assert f"upstream: {server.value}" in completed.stdout

    [written] = tmp_path.glob("proxy-install-*.json")
    document = json.loads(written.read_text())
    assert document["scenario"] == "proxy-install"
    assert document["corpus"]["smoke"] is True
    assert document["corpus"]["wheels"] == 3
    assert [row["name"] for row in document["rows"]] == list(ROWS)
    for row in document["rows"]:
        assert len(row["seconds"]) == 1
    # Warm means served from Stilton's cache: the upstream saw no request at all.
    warm = document["rows"][2]
    assert warm["upstream_requests"] == [0]
    assert {"cores", "cpu", "python", "uv"} <= document["machine"].keys()


def test_large_lock_names_about_a_hundred_projects_once_each() -> None:
    files = parse_lock(LARGE_LOCK_PATH.read_text())
    projects = [file.project for file in files]
    assert 90 <= len(projects) <= 120
    assert len(set(projects)) == len(projects)
    assert {"numpy", "pandas", "pyarrow", "fastapi", "colorama"} <= set(projects)


WRK_REPORT = """Running 5s test @ http://127.0.0.1:8080/simple/requests/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   710.12us  1.02ms  20.31ms   93.12%
    Req/Sec    24.10k     2.31k   28.01k    70.00%
  Latency Distribution
     50%  512.00us
     75%  701.00us
     90%    1.10ms
     99%    5.27ms
  239871 requests in 5.00s, 155.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  47974.20
Transfer/sec:     31.02MB
"""


def test_wrk_report_is_read() -> None:
    result = parse_wrk(WRK_REPORT)
    assert result.requests_per_second == 47974.20
    assert result.bytes_per_second == pytest.approx(31.02e6)
    assert result.p99_ms == pytest.approx(5.27)
    assert result.errors == 7


def test_wrk_report_in_bytes_per_second_is_read() -> None:
    report = WRK_REPORT.replace("Transfer/sec:     31.02MB", "Transfer/sec:     812.00B")
    assert parse_wrk(report).bytes_per_second == 812.0


def test_json_page_of_the_static_tree_parses_like_its_html_page(tmp_path: Path) -> None:
    corpus = smoke_corpus(tmp_path / "wheels")
    tree = build_suite_tree([corpus], tmp_path / "tree")
    page_dir = tree / "simple" / "stilton-bench-lib"
    base = "http://127.0.0.1/simple/stilton-bench-lib/"
    from_html = ProjectPage.from_html(
        "stilton-bench-lib", (page_dir / "index.html").read_text(), base_url=base
    )
    from_json = ProjectPage.from_json_data(json.loads((page_dir / "index.json").read_text()), base)
    assert [p.url for p in from_json.packages] == [p.url for p in from_html.packages]
    assert [p.digests for p in from_json.packages] == [p.digests for p in from_html.packages]
    assert (page_dir / "index.html.gz").exists()


def test_suite_table_shows_every_metric_of_every_server() -> None:
    metric = Metric("page small html", Unit.REQUESTS)
    runs: Runs = {
        "nginx": {metric: [Figure(100.0, 1.0)]},
        "stilton proxy": {metric: [Figure(60.0, 2.0)]},
        "stilton hosted": {metric: [Figure.failed("boom\ntraceback")]},
    }
    table = render_table(medians(runs), [metric])
    assert "0.60x" in table
    assert "failed: boom" in table


SUITE_SERVERS = ("nginx", "stilton proxy", "stilton hosted")


def run_suite_smoke(results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "suite", "--smoke", "--results-dir", str(results)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
    )


@pytest.mark.e2e
def test_suite_smoke_run_prints_one_table_and_writes_the_json(tmp_path: Path) -> None:
    if find_nginx(os.environ) is None:
        pytest.skip("nginx is not installed")
    completed = run_suite_smoke(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    lines = completed.stdout.splitlines()
    assert any(line.startswith("metric") and "proxy ÷" in line for line in lines)
    for server in SUITE_SERVERS:
        assert any(line.startswith("uv install warm") and server in line for line in lines)
    assert "load average before" in completed.stdout
    assert "bars" in completed.stdout

    [written] = tmp_path.glob("suite-*.json")
    document = json.loads(written.read_text())
    assert document["scenario"] == "suite"
    assert set(document["servers"]) == set(SUITE_SERVERS)
    for server in SUITE_SERVERS:
        installs = document["servers"][server]["uv install warm"]["runs"]
        assert installs[0]["value"] is not None, installs
    assert {"cores", "cpu"} <= document["machine"].keys()
