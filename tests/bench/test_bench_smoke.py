"""The benchmark harness without the network: the corpus lock file round-trips, the committed one
is whole, and ``python -m bench proxy-install --smoke`` (three tiny local wheels, one run) prints
its table and writes its JSON. Nothing here asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import LOCK_PATH, CorpusError, CorpusFile, parse_lock, render_lock
from bench.servers import ServerKind, find_nginx

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
