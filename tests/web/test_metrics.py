"""``/-/metrics``: parsed by prometheus-client's own parser, its counters moving as requests are
made (cache hits answered by the fast path too), and readable by whom ``metrics_access`` says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from stilton.web.metrics import forget_dead_processes, route_kind
from tests.support.dists import Dist
from tests.support.metrics import scrape, value
from tests.support.uploads import basic_auth
from tests.web.conftest import CLOSED_UPSTREAM, Uploader

DIST = Dist("metered", "1.0")


def test_counters_move_as_requests_are_made(client: TestClient, uploader: Uploader) -> None:
    assert uploader.wheel(DIST).status_code == 200
    before = scrape(client)
    page = "/local/simple/metered/"

    for _ in range(3):
        assert client.get(page).status_code == 200
    assert client.get("/local/simple/nope/").status_code == 404
    assert uploader.wheel(DIST).status_code == 200  # the same file again: unchanged
    assert client.post("/local/", headers=basic_auth("__token__", "wrong")).status_code == 403
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("stilton_requests_total", route="simple_page", status="200") == 3
    assert moved("stilton_requests_total", route="simple_page", status="404") == 1
    assert moved("stilton_request_duration_seconds_count", route="simple_page") == 4
    assert moved("stilton_page_cache_total", result="miss") == 2  # the first render, and nope
    assert moved("stilton_page_cache_total", result="hit") == 2  # the fast path's answers
    assert moved("stilton_uploads_total", index="local", outcome="unchanged") == 1
    assert moved("stilton_uploads_total", index="local", outcome="refused") == 1
    assert moved("stilton_authentication_failures_total", reason="invalid_token") == 1
    assert moved("stilton_requests_total", route="metrics", status="200") == 1
    assert value(after, "stilton_proxy_cache_bytes", index="pypi") == 0


@pytest.fixture
def restricted(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings.from_env(
        {},
        {
            "data_dir": tmp_path / "data",
            "default_upstream": CLOSED_UPSTREAM,
            "metrics_access": "admin",
            "admin_password": "admin-password",
        },
    )
    runtime = open_runtime(settings)
    runtime.auth.ensure_admin(settings.admin_password)
    token = runtime.auth.create_token(None, "scraper")[1]
    runtime.close()
    with TestClient(create_app(settings)) as client:
        yield client, token


def test_restricted_metrics_need_an_administrator(restricted: tuple[TestClient, str]) -> None:
    client, token = restricted

    anonymous = client.get("/-/metrics")
    not_admin = client.get("/-/metrics", headers=basic_auth("__token__", token))

    assert anonymous.status_code == 401 and "metrics_access" in anonymous.text
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert not_admin.status_code == 403 and "administrators only" in not_admin.text
    assert scrape(client, **basic_auth("admin", "admin-password"))


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, {"data_dir": tmp_path / "data", "default_upstream": CLOSED_UPSTREAM,
             "metrics_access": "off"},
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        response = client.get("/-/metrics")

    assert response.status_code == 404 and "turned off" in response.text


ROUTES = [
    ("GET", "/simple/", "simple_list"),
    ("GET", "/simple/requests/", "simple_page"),
    ("GET", "/local/simple/x/", "simple_page"),
    ("GET", "/local/+simple/x/", "simple_page"),
    ("GET", "/pypi/simple/x/", "simple_page"),  # the index named "pypi"
    ("GET", "/pypi/x/json", "json_api"),  # the default index's JSON API
    ("GET", "/pypi/pypi/x/1.0/json", "json_api"),
    ("GET", "/local/files/ab/x-1-py3-none-any.whl", "file"),
    ("GET", "/local/files/ab/x-1-py3-none-any.whl.metadata", "metadata"),
    ("POST", "/local/", "upload"),
    ("POST", "/local", "upload"),
    ("POST", "/local/legacy/", "upload"),
    ("POST", "/-/login", "ui"),
    ("GET", "/-/metrics", "metrics"),
    ("GET", "/-/ready", "health"),
    ("GET", "/api/indexes", "api"),
    ("GET", "/", "ui"),
    ("GET", "/local/", "ui"),
]


@pytest.mark.parametrize(("method", "path", "kind"), ROUTES)
def test_route_kinds(method: str, path: str, kind: str) -> None:
    assert route_kind(method, path) == kind


def test_the_live_gauges_of_a_dead_worker_are_forgotten(tmp_path: Path) -> None:
    """A worker that died (its replacement has another pid) left its gauges' file; a scrape
    drops it, and keeps the files of live processes and the counters of dead ones."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead, live = int(gone.stdout), os.getpid()
    names = [
        f"gauge_livemin_{dead}.db",
        f"gauge_livemin_{live}.db",
        f"counter_{dead}.db",
        f"gauge_min_{dead}.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    forget_dead_processes(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
