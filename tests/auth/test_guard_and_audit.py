"""The brute-force guard (failures slow down, then lock an address out for a while, then let it
go) and the audit log (who did what, from where), and that no secret ever shows up in an audit
entry, a page or a log line."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stilton.core.errors import TooManyAttempts
from stilton.core.permissions import Acl
from stilton.storage.database import Database
from stilton.storage.users import AuditEntry
from stilton.web.guard import FailureGuard
from tests.auth.conftest import (
    HOSTED,
    HOSTED_DIST,
    PASSWORDS,
    PRIVATE,
    TESTCLIENT_ADDRESS,
    Server,
    login,
    token_auth,
)
from tests.support.dists import Dist
from tests.support.uploads import basic_auth
from tests.support.upstream import FakeUpstream

WRONG = basic_auth("reader", "wrong-password-0")


def read_page(server: Server, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(
        f"/{HOSTED}/simple/{HOSTED_DIST.name}/", headers=headers
    )
    return response


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A database of its own, where a guard keeps its counts."""
    database = Database(f"sqlite:///{tmp_path / 'guard.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


def short_guard(database: Database, lockout: float = 1) -> FailureGuard:
    """Slow after 2 failures, locked out for ``lockout`` s after 4 checks within 60 s."""
    return FailureGuard(database, slow_after=2, lock_after=4, window=60, lockout=lockout)


GUARDED_LOCKOUT = 4.0  # long enough for several requests while locked out, on a busy machine


@pytest.fixture
def guarded(server: Server) -> Server:
    """The server with a guard of short windows (``short_guard``)."""
    server.state.guard = short_guard(server.runtime.database, lockout=GUARDED_LOCKOUT)
    return server


def fail(guard: FailureGuard, address: str) -> float:
    """One check from ``address`` that fails: counted as it arrives, then judged."""
    guard.attempt(address)
    return guard.failed(address)


def locked_out(guard: FailureGuard, address: str) -> bool:
    try:
        guard.attempt(address)
    except TooManyAttempts:
        return True
    guard.succeeded(address)  # the probe was a check; let it leave no count behind
    return False


# -- the guard on its own: per-address behaviour -----------------------------------------------


def test_default_guard_delays_from_the_third_failure_and_locks_at_the_tenth(
    database: Database,
) -> None:
    guard = FailureGuard(database)
    delays = [fail(guard, "10.0.0.1") for _ in range(9)]
    assert delays[:2] == [0.0, 0.0]
    assert all(d > 0 for d in delays[2:])
    assert delays == sorted(delays)
    assert max(delays) <= 2.0
    with pytest.raises(TooManyAttempts) as locked:
        fail(guard, "10.0.0.1")
    assert locked.value.retry_after == 60
    with pytest.raises(TooManyAttempts) as again:
        guard.attempt("10.0.0.1")
    assert 59 <= again.value.retry_after <= 61


def test_a_check_past_the_limit_is_refused_as_it_arrives(database: Database) -> None:
    """Checks still running count: the one after ``lock_after`` of them is refused at once."""
    guard = FailureGuard(database, slow_after=2, lock_after=3, window=60, lockout=60)
    for _ in range(3):
        guard.attempt("10.0.0.1")  # three checks begun, none finished
    with pytest.raises(TooManyAttempts) as refused:
        guard.attempt("10.0.0.1")
    assert refused.value.retry_after == 60
    with pytest.raises(TooManyAttempts):
        guard.failed("10.0.0.1")  # a check that was running, failing now: locked out too


def test_a_locked_address_does_not_affect_another(database: Database) -> None:
    guard = FailureGuard(database, slow_after=2, lock_after=3, window=60, lockout=60)
    for _ in range(2):
        fail(guard, "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        fail(guard, "10.0.0.1")
    assert not locked_out(guard, "10.0.0.2")  # another address is free
    assert fail(guard, "10.0.0.2") == 0.0  # and starts its own count
    guard.succeeded("10.0.0.2")
    assert locked_out(guard, "10.0.0.1")  # a success elsewhere releases nothing


def test_a_success_during_the_lockout_does_not_release_it(database: Database) -> None:
    guard = FailureGuard(database, slow_after=1, lock_after=2, window=60, lockout=60)
    fail(guard, "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        fail(guard, "10.0.0.1")
    guard.succeeded("10.0.0.1")
    assert locked_out(guard, "10.0.0.1")


def test_a_success_resets_the_count(database: Database) -> None:
    guard = FailureGuard(database, slow_after=2, lock_after=3, window=60, lockout=60)
    fail(guard, "10.0.0.1")
    assert fail(guard, "10.0.0.1") > 0
    guard.attempt("10.0.0.1")
    guard.succeeded("10.0.0.1")
    assert fail(guard, "10.0.0.1") == 0.0
    assert fail(guard, "10.0.0.1") > 0  # the second failure since the success, not a lock


def test_failures_outside_the_window_are_forgotten(database: Database) -> None:
    guard = FailureGuard(database, slow_after=2, lock_after=3, window=0.2, lockout=60)
    fail(guard, "10.0.0.1")
    fail(guard, "10.0.0.1")
    time.sleep(0.25)  # the passage of time is what is tested here
    assert fail(guard, "10.0.0.1") == 0.0  # one failure in the window, not three


def test_the_lockout_ends(database: Database) -> None:
    guard = FailureGuard(database, slow_after=1, lock_after=2, window=60, lockout=0.3)
    fail(guard, "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        fail(guard, "10.0.0.1")
    wait_until(lambda: not locked_out(guard, "10.0.0.1"))


def test_two_guards_on_one_database_share_their_counts(database: Database) -> None:
    """What two worker processes do: each has its own guard over the same table."""
    first, second = short_guard(database), short_guard(database)
    for guard in (first, second, first):
        fail(guard, "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        fail(second, "10.0.0.1")  # the fourth check of the window, wherever it ran
    assert locked_out(first, "10.0.0.1")
    assert not locked_out(first, "10.0.0.2")


# -- the guard through the app -----------------------------------------------------------------


def test_guard_slows_down_locks_out_and_releases(guarded: Server) -> None:
    first = read_page(guarded, WRONG)
    second, slowed = timed(lambda: read_page(guarded, WRONG))
    third, slower = timed(lambda: read_page(guarded, WRONG))
    assert [r.status_code for r in (first, second, third)] == [401, 401, 401]
    assert slowed >= 0.25  # the guard's delays: 0.25 s, then 0.5 s
    assert slower >= 0.5
    locked = read_page(guarded, WRONG)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert "Too many failed authentication attempts" in locked.text
    # While locked out, even the right password is refused, without being checked.
    refused = read_page(guarded, login("reader"))
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert guarded.upload(HOSTED, Dist("locked", "1.0"), login("uploader")).status_code == 429
    # Anonymous reads of a public index need no credentials, so the guard is not consulted.
    assert guarded.client.get("/local/simple/").status_code == 200
    wait_until(
        lambda: read_page(guarded, login("reader")).status_code == 200,
        timeout=GUARDED_LOCKOUT + 10,
    )


def test_a_success_resets_the_count_through_the_app(guarded: Server) -> None:
    for _ in range(3):
        assert read_page(guarded, WRONG).status_code == 401
    assert read_page(guarded, login("reader")).status_code == 200
    for _ in range(3):  # 6 failures in the window, but never 4 in a row
        assert read_page(guarded, WRONG).status_code == 401


def test_failed_uploads_count_too(guarded: Server) -> None:
    wrong = basic_auth("uploader", "wrong-password-1")
    statuses = [guarded.upload(HOSTED, Dist("guarded", "1.0"), wrong).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_admin_api_lockout_says_when_to_retry(guarded: Server) -> None:
    wrong = basic_auth("admin", "wrong-password-2")
    statuses = [guarded.client.get("/api/whoami", headers=wrong).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]
    locked = guarded.client.get("/api/whoami", headers=login("admin"))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


# -- the audit log -----------------------------------------------------------------------------


def latest(server: Server, action: str) -> AuditEntry:
    found = [e for e in server.runtime.auth.audit_log(1000) if e.action == action]
    assert found, f"no {action!r} entry in the audit log"
    return found[0]


def do_upload(server: Server) -> None:
    assert server.upload(HOSTED, Dist("audited", "1.0"), login("uploader")).status_code == 200


def do_yank(server: Server) -> None:
    body = {"project": HOSTED_DIST.name, "version": HOSTED_DIST.version, "reason": "broken"}
    assert server.api("POST", f"/indexes/{HOSTED}/yank", "uploader", json=body).status_code == 200


def do_delete(server: Server) -> None:
    body = {"project": HOSTED_DIST.name, "filename": HOSTED_DIST.wheel_filename}
    assert server.api("POST", f"/indexes/{HOSTED}/delete", "admin", json=body).status_code == 200


def do_permissions(server: Server) -> None:
    acl = Acl(read=PRIVATE.read, upload=PRIVATE.upload, admin=("user:uploader",)).to_mapping()
    response = server.api("PUT", f"/indexes/{HOSTED}/permissions", "admin", json=acl)
    assert response.status_code == 200


def do_failed_login(server: Server) -> None:
    assert read_page(server, WRONG).status_code == 401


# action -> (what to do, the audit entry's action, its actor, its project)
AUDITED: dict[str, tuple[Callable[[Server], None], str, str, str | None]] = {
    "upload": (do_upload, "add file", "user:uploader", "audited"),
    "yank": (do_yank, "yank", "user:uploader", HOSTED_DIST.name),
    "delete": (do_delete, "remove file", "user:admin", HOSTED_DIST.name),
    "permissions": (do_permissions, "set permissions", "user:admin", None),
    "failed login": (do_failed_login, "failed login", "user:reader", None),
}


def audit_case(name: str) -> Any:
    return pytest.param(name, id=name)


@pytest.mark.parametrize("name", [audit_case(n) for n in AUDITED])
def test_audit_records_actor_and_address(server: Server, name: str) -> None:
    act, action, actor, project = AUDITED[name]
    act(server)
    entry = latest(server, action)
    assert entry.actor == actor
    assert entry.address == TESTCLIENT_ADDRESS
    if project is not None:
        assert entry.project == project
    if name != "failed login":
        assert entry.index == HOSTED


def test_audit_api_shows_the_log_to_admins_only(server: Server) -> None:
    for act, *_ in AUDITED.values():
        act(server)
    shown = server.api("GET", "/audit", "admin", params={"limit": 1000})
    assert shown.status_code == 200
    stored = server.runtime.auth.audit_log(1000)
    assert [(e["actor"], e["address"], e["action"]) for e in shown.json()] == [
        (e.actor, e.address, e.action) for e in stored
    ]
    wanted = {action for _, action, _, _ in AUDITED.values()}
    assert wanted <= {e["action"] for e in shown.json()}
    assert server.api("GET", "/audit", "uploader").status_code == 403
    assert server.api("GET", "/audit", None).status_code == 401


# -- no secret anywhere ------------------------------------------------------------------------


def basic_value(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def test_no_secret_in_audit_pages_or_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pages: list[httpx.Response] = []
    secrets = [*PASSWORDS.values(), "wrong-password-0", "new-password-4", "added-password-5"]
    secrets.append("upstream-password-6")
    with FakeUpstream(auth=("mirror", "upstream-password-6")) as private_upstream:
        private_upstream.add(Dist("behind-auth", "1.0"), sdist=False)
        upstream = {"url": private_upstream.simple_url, "username": "mirror"}
        upstream["password"] = "upstream-password-6"
        body = {"name": "p-creds", "kind": "proxy", "upstream": upstream}
        pages.append(server.api("POST", "/indexes", "admin", json=body))
        pages.append(server.client.get("/p-creds/simple/behind-auth/"))
        made = server.api("POST", "/tokens", "uploader", json={"description": "ci"})
        token = made.json()["token"]  # the one response that must show it, once
        secrets.append(token)
        pages.append(read_page(server, login("reader")))
        pages.append(read_page(server, token_auth(token)))
        pages.append(server.upload(HOSTED, Dist("secretive", "1.0"), token_auth(token)))
        pages.append(server.upload(HOSTED, Dist("secretive", "1.1"), login("uploader")))
        pages.append(read_page(server, WRONG))
        pages.append(read_page(server, token_auth(token[:-2] + "xx")))
        pages.append(server.upload(HOSTED, Dist("secretive", "1.2"), WRONG))
        password = {"password": "new-password-4"}
        pages.append(server.api("PUT", "/users/reader/password", "admin", json=password))
        user = {"username": "added", "password": "added-password-5"}
        pages.append(server.api("POST", "/users", "admin", json=user))
        for path in ("/audit?limit=1000", "/tokens", "/users", "/indexes", "/indexes/p-creds"):
            pages.append(server.api("GET", path, "admin"))
    assert made.status_code == 201
    assert [p.status_code for p in pages] == [
        201, 200, 200, 200, 200, 200, 401, 401, 403, 204, 201, 200, 200, 200, 200, 200,
    ]  # fmt: skip
    # The secrets as they were sent, too: the value of each Authorization header.
    sent = [("mirror", "upstream-password-6"), ("__token__", token), ("reader", "wrong-password-0")]
    sent += list(PASSWORDS.items())
    forms = secrets + [basic_value(username, password) for username, password in sent]
    entries = [repr(e) for e in server.runtime.auth.audit_log(1000)]
    for secret in forms:
        for entry in entries:
            assert secret not in entry
        for page in pages:
            assert secret not in page.text
            assert all(secret not in value for value in page.headers.values())
        assert secret not in caplog.text
        assert all(secret not in str(r.__dict__) for r in caplog.records)
