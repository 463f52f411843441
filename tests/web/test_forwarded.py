"""X-Forwarded-* headers count only from configured proxies."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from stilton.settings import Settings
from stilton.web.app import create_app
from tests.web.conftest import CLOSED_UPSTREAM

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7, 10.0.0.2",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "pypi.example.test",
}


def landing(tmp_path: Path, trusted: str) -> str:
    overrides: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "default_upstream": CLOSED_UPSTREAM,
    }
    if trusted:
        overrides["trusted_proxies"] = trusted
    app = create_app(Settings.from_env({}, overrides))
    with TestClient(app, client=("10.0.0.2", 40000)) as client:
        page: str = client.get("/", headers=FORWARDED).text
        return page


def test_headers_from_a_trusted_proxy_set_scheme_and_host(tmp_path: Path) -> None:
    page = landing(tmp_path, "10.0.0.0/8")
    assert "https://pypi.example.test/simple/" in page


def test_headers_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    page = landing(tmp_path, "")
    assert "http://testserver/simple/" in page
    assert "pypi.example.test" not in page
