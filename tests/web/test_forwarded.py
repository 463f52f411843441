"""X-Forwarded-* headers count only from configured proxies."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from stilton.auth.service import common_name
from stilton.core.permissions import Acl
from stilton.runtime import open_runtime
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
        # The index page's "use this index" snippets name the server as clients reach it.
        page: str = client.get("/main/", headers={**FORWARDED, "Accept": "text/html"}).text
        return page


def test_headers_from_a_trusted_proxy_set_scheme_and_host(tmp_path: Path) -> None:
    page = landing(tmp_path, "10.0.0.0/8")
    assert "https://pypi.example.test/main/simple/" in page


def test_headers_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    page = landing(tmp_path, "")
    assert "http://testserver/main/simple/" in page
    assert "pypi.example.test" not in page


def test_a_proxys_client_certificate_subject_names_the_user(tmp_path: Path) -> None:
    overrides: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "default_upstream": CLOSED_UPSTREAM,
        "trusted_proxies": "10.0.0.0/8",
        "client_cert_header": "X-SSL-Client-S-DN",
    }
    settings = Settings.from_env({}, overrides)
    app = create_app(settings)
    runtime = open_runtime(settings)
    runtime.auth.add_user("alice", "alice-password")
    runtime.set_permissions("local", Acl(read=("user:alice",)))
    runtime.close()
    with TestClient(app, client=("10.0.0.2", 40000)) as proxied:
        subject = {"X-SSL-Client-S-DN": "CN=alice,O=Acme"}
        assert proxied.get("/local/simple/", headers=subject).status_code == 200
        stranger = {"X-SSL-Client-S-DN": "CN=mallory,O=Acme"}
        assert proxied.get("/local/simple/", headers=stranger).status_code == 401
        assert proxied.get("/local/simple/").status_code == 401
    with TestClient(app, client=("192.0.2.9", 40000)) as direct:
        assert direct.get("/local/simple/", headers=subject).status_code == 401


def test_common_name() -> None:
    assert common_name("CN=alice,O=Acme") == "alice"
    assert common_name("/C=NL/O=Acme/CN=bob") == "bob"
    assert common_name("O=Acme") is None
