"""The ``realsize`` harness without the network: the recorded page sizes cover the large corpus,
synthetic page entries are valid filenames of lower versions, the real-size pages parse alike as
HTML and JSON, nginx's log and the installers' errors are read right, and the smoke run of
``python -m bench realsize`` prints a table with no failed install. Nothing here asserts a
timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version
from pypi_simple import ACCEPT_JSON_ONLY, ProjectPage

from bench.corpus import LARGE_LOCK_PATH, CorpusFile, parse_lock, smoke_corpus
from bench.install_probe import (
    LogLine,
    Outcome,
    ServerErrors,
    Tool,
    Traffic,
    failure_reason,
    reported_statuses,
)
from bench.page_files import lower_versions, synthetic_files
from bench.page_sizes import SIZES_PATH, PageSize, parse_sizes, render_sizes
from bench.realsize_report import render_report
from bench.realsize_tree import build_realsize_tree, smoke_sizes
from bench.servers import NginxUpstream, find_nginx

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT = 400  # seconds; a smoke run takes one to two minutes
PINNED = CorpusFile("pillow-13.0.0-cp311-cp311-manylinux_2_28_x86_64.whl", "a" * 64)


def test_recorded_sizes_cover_every_project_of_the_large_corpus() -> None:
    sizes = parse_sizes(SIZES_PATH.read_text())
    projects = {file.project for file in parse_lock(LARGE_LOCK_PATH.read_text())}
    assert projects <= sizes.keys()
    assert max(size.files for size in sizes.values()) > 10_000


def test_sizes_round_trip() -> None:
    size = PageSize(PINNED.project, 10, 7, 2, 1, 4, 4321)
    assert parse_sizes(render_sizes([size], "2026-01-01")) == {PINNED.project: size}


@pytest.mark.parametrize(
    ("pinned", "count"), [("0.0.7", 6), ("2026.10.18", 60), ("2.50.4", 300), ("1", 5)]
)
def test_lower_versions_are_distinct_and_below_the_pin(pinned: str, count: int) -> None:
    versions = lower_versions(Version(pinned), count)
    assert len(versions) == count
    assert len(set(versions)) == count
    assert all(version < Version(pinned) for version in versions)


def test_synthetic_files_are_valid_and_never_match_the_pin() -> None:
    size = PageSize(PINNED.project, 3000, 2800, 150, 50, 120, 0)
    files = synthetic_files(PINNED, 5_000_000, size)
    assert len(files) == size.files - 1
    wheels = [parse_wheel_filename(f.filename) for f in files if f.filename.endswith(".whl")]
    sdists = [parse_sdist_filename(f.filename) for f in files if f.filename.endswith(".tar.gz")]
    assert len(wheels) == size.wheels - 1
    pinned_version = Version("13.0.0")
    assert all(version < pinned_version for _, version, _, _ in wheels)
    assert all(version < pinned_version for _, version in sdists)
    assert len({tag for *_, tags in wheels for tag in tags}) > 20  # the usual spread of tags
    assert synthetic_files(PINNED, 5_000_000, size) == files  # deterministic


def test_real_size_page_parses_alike_as_html_and_json(tmp_path: Path) -> None:
    corpus = smoke_corpus(tmp_path / "wheels")
    tree = build_realsize_tree(corpus, smoke_sizes(corpus, 500), tmp_path / "tree")
    assert tree.listed_files == 3 * 500
    page = tree.root / "simple" / "stilton-bench-lib"
    base = "http://127.0.0.1/simple/stilton-bench-lib/"
    html = ProjectPage.from_html("stilton-bench-lib", (page / "index.html").read_text(), base)
    data = ProjectPage.from_json_data(json.loads((page / "index.json").read_text()), base)
    assert len(html.packages) == len(data.packages) == 500
    assert [(p.url, p.digests) for p in html.packages] == [
        (p.url, p.digests) for p in data.packages
    ]
    assert [p.version for p in data.packages].count("1.0") == 1  # only the real wheel is pinned
    assert all(p.size and p.upload_time for p in data.packages)
    assert (page / "index.json.gz").exists()


@pytest.mark.parametrize("files", [1, 2, 3, 25])
def test_small_pages_list_exactly_as_many_files(tmp_path: Path, files: int) -> None:
    """``--page-files``: every page lists that many files, the pinned wheel among them."""
    corpus = smoke_corpus(tmp_path / "wheels")
    tree = build_realsize_tree(corpus, smoke_sizes(corpus, files), tmp_path / "tree")
    assert tree.listed_files == 3 * files
    for file in corpus.files:
        data = json.loads((tree.root / "simple" / file.project / "index.json").read_text())
        names = [entry["filename"] for entry in data["files"]]
        assert len(names) == len(set(names)) == files
        assert file.filename in names


def test_upstream_traffic_counts_pages_and_synthetic_requests() -> None:
    lines = [
        LogLine("GET", "/simple/numpy/", 200),
        LogLine("GET", "/simple/numpy/", 304),
        LogLine("GET", "/files/numpy-2.0-cp311-cp311-linux_x86_64.whl", 200),
        LogLine("GET", "/packages/aa/bb/cc/numpy-1.0.tar.gz", 404),
        LogLine("GET", "/files/missing.whl", 404),
    ]
    traffic = Traffic.from_log(lines)
    assert traffic.page_fetches == {"numpy": 2}
    assert traffic.synthetic == ["/packages/aa/bb/cc/numpy-1.0.tar.gz"]
    assert traffic.not_found == ["/files/missing.whl"]


def test_installer_errors_are_read() -> None:
    uv = (
        "error: Failed to fetch: `http://127.0.0.1:1/up/simple/numpy/`\n"
        "  Caused by: HTTP status server error (503 Service Unavailable) for url (...)\n"
    )
    pip = "WARNING: Retrying ... ResponseError('too many 500 error responses')\nHTTP error 404\n"
    assert reported_statuses(uv) == {503: 1}
    assert reported_statuses(pip) == {404: 1, 500: 1}
    assert failure_reason(uv).startswith("error: Failed to fetch")
    assert "503" in failure_reason(uv)


def test_server_errors_are_read_from_stiltons_log() -> None:
    log = (
        'INFO httpx: HTTP Request: GET http://127.0.0.1:1/simple/six/ "HTTP/1.1 200 OK"\n'
        "ERROR stilton.web: GET /up/simple/six/: The database is unavailable: database is locked\n"
        "ERROR stilton.web: GET /up/simple/six/ failed\n"
        "Traceback (most recent call last):\n"
    )
    assert ServerErrors.from_log(log) == ServerErrors(total=2, unexpected=1)


@pytest.mark.e2e
@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_nginx_serves_json_to_who_asks_and_404s_synthetic_files(gzip: bool) -> None:
    binary = find_nginx(os.environ)
    if binary is None:
        pytest.skip("nginx is not installed")
    # Not pytest's tmp_path: nginx's workers run as another user and must read the tree.
    with tempfile.TemporaryDirectory(prefix="stilton-realsize-test-") as scratch:
        Path(scratch).chmod(0o755)
        check_nginx(binary, Path(scratch), gzip)


def check_nginx(binary: str, tmp_path: Path, gzip: bool) -> None:
    corpus = smoke_corpus(tmp_path / "wheels")
    tree = build_realsize_tree(corpus, smoke_sizes(corpus, 50), tmp_path / "tree")
    with (
        NginxUpstream(
            binary, tree.root, tmp_path / "nginx", os.environ, gzip=gzip, negotiate=True
        ) as nginx,
        httpx.Client(trust_env=False) as client,
    ):
        page_url = f"{nginx.index_url}stilton-bench-lib/"
        as_json = client.get(page_url, headers={"Accept": ACCEPT_JSON_ONLY})
        as_html = client.get(page_url, headers={"Accept": "text/html"})
        page = ProjectPage.from_json_data(as_json.json(), page_url)
        synthetic = next(p for p in page.packages if "/packages/" in p.url)
        missing = client.get(synthetic.url)
    assert as_json.headers["content-type"] == ACCEPT_JSON_ONLY
    assert as_html.headers["content-type"].startswith("text/html")
    assert (as_json.headers.get("content-encoding") == "gzip") is gzip
    assert missing.status_code == 404


@pytest.mark.e2e
def test_smoke_run_prints_a_table_without_failures(tmp_path: Path) -> None:
    if find_nginx(os.environ) is None:
        pytest.skip("nginx is not installed")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "realsize", "--smoke", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("install") and "median s" in line for line in lines)
    [written] = tmp_path.glob("realsize-*.json")
    rows = json.loads(written.read_text())["rows"]
    assert {"uv direct", "uv stilton w1 cold", "uv stilton w2 cold", "pip stilton w1 cold"} <= set(
        rows
    )
    failed = {name: row["failed_runs"] for name, row in rows.items() if row["failed_runs"]}
    assert failed == {}, completed.stdout
    assert "FAILED" not in completed.stdout and "ERROR" not in completed.stdout


def test_peers_get_rows_and_ratios_of_their_own() -> None:
    def took(seconds: float) -> Outcome:
        return Outcome(Tool.UV, seconds, None, {}, 1.0, 10**8, Traffic())

    run = {
        "uv direct": took(1.5),
        "uv stilton w2 cold": took(3.0),
        "uv stilton w2 warm 1": took(1.8),
        "uv stilton w2 warm 2": took(1.6),
        "uv proxpi cold": took(4.0),
        "uv proxpi warm 1": took(2.0),
        "uv devpi cold": Outcome.not_run(Tool.UV, "devpi did not start: no port"),
        "uv devpi warm 1": Outcome.not_run(Tool.UV, "devpi did not start: no port"),
    }
    report = render_report([run], ["a"], [])
    rows = {
        " ".join(line.split()[:3]): line for line in report.splitlines() if line.startswith("uv ")
    }
    assert "uv proxpi cold" in rows and "uv devpi cold" in rows
    assert rows["uv devpi cold"].split()[3] == "0/1" and "devpi did not start" in report
    ratios = [line.strip() for line in report.splitlines() if " / " in line]
    assert any(r.startswith("stilton w2 cold / proxpi cold") and "0.75x" in r for r in ratios)
    assert any(r.startswith("proxpi cold / uv direct") and "2.67x" in r for r in ratios)
    assert not any("stilton w1" in r for r in ratios), "no row, no ratio"
