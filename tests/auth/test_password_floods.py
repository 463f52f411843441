"""Floods of password checks: argon2 holds 64 MiB while it runs, so a burst of wrong passwords
must neither run all at once nor all run. The guard counts each check as it arrives: past its
limit, a guess is refused (429) without being hashed. At most ``password_checks`` checks run at
once per process; the others wait. The right password, sent by many requests at once, is
checked once, and then remembered.

How many checks ran is read from the audit log (one "failed login" per failed check) and the
guard's count; how many ran at once, from argon2's own hasher, watched."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher

from stilton.core.errors import InvalidInput
from stilton.settings import Settings
from tests.auth.conftest import (
    HOSTED,
    HOSTED_DIST,
    HOSTED_WHEEL,
    PASSWORDS,
    TESTCLIENT_ADDRESS,
    Server,
    login,
    token_auth,
)
from tests.support.uploads import basic_auth

FLOOD = 40
LOCK_AFTER = 10  # the default guard_lock_after
DEADLINE = 10.0  # seconds for things that are about to happen on a loaded machine
INVALID = "Invalid or non-existent authentication information"
TOO_MANY = "Too many failed authentication attempts from this address"


class WatchedHasher(PasswordHasher):
    """argon2's hasher, counting the checks it runs and the most that ran at once; while
    ``gate`` is clear, checks that started wait inside it (so others can be seen waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.checks = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.checks += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.gate.wait(DEADLINE)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def hasher(server: Server) -> Iterator[WatchedHasher]:
    watched = WatchedHasher()
    server.runtime.auth.hasher = watched
    yield watched
    watched.gate.set()


def read_page(server: Server, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = server.client.get(
        f"/{HOSTED}/simple/{HOSTED_DIST.name}/", headers=headers
    )
    return response


def failed_checks(server: Server) -> int:
    return sum(1 for e in server.runtime.auth.audit_log(1000) if e.action == "failed login")


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def healthy(server: Server) -> bool:
    return bool(server.client.get("/-/health").status_code == 200)


def flood(
    server: Server, pool: ThreadPoolExecutor, headers: list[dict[str, str]]
) -> list[Future[httpx.Response]]:
    return [pool.submit(read_page, server, h) for h in headers]


def guesses(username: str, count: int) -> list[dict[str, str]]:
    return [basic_auth(username, f"guess-{n:03d}-wrong") for n in range(count)]


def assert_nothing_leaked(response: httpx.Response, secrets: list[str]) -> None:
    assert HOSTED_DIST.wheel_filename not in response.text
    assert response.content != HOSTED_WHEEL
    for secret in secrets:
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())


# -- many guesses at once ----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["reader", "nobody-here"])
def test_a_flood_of_wrong_passwords_is_hashed_only_up_to_the_limit(
    server: Server, hasher: WatchedHasher, username: str
) -> None:
    """40 different guesses at once from one address: 10 are checked, 30 refused unhashed."""
    with ThreadPoolExecutor(FLOOD + 8) as pool:
        answers = flood(server, pool, guesses(username, FLOOD))
        during = [pool.submit(healthy, server) for _ in range(8)]
        responses = [a.result() for a in answers]
        assert all(h.result() for h in during)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}
    assert statuses.count(429) >= FLOOD - LOCK_AFTER
    for response in responses:
        assert (INVALID if response.status_code == 401 else TOO_MANY) in response.text
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
        assert_nothing_leaked(response, [f"guess-{n:03d}-wrong" for n in range(FLOOD)])
    assert failed_checks(server) == LOCK_AFTER
    assert hasher.checks == LOCK_AFTER
    assert server.state.guard.attempts(TESTCLIENT_ADDRESS) == LOCK_AFTER
    assert healthy(server)


def test_a_locked_out_address_is_refused_the_right_password_without_a_check(
    server: Server, hasher: WatchedHasher
) -> None:
    with ThreadPoolExecutor(FLOOD) as pool:
        for answer in flood(server, pool, guesses("reader", FLOOD)):
            answer.result()
    checks = hasher.checks
    refused = read_page(server, login("reader"))
    assert refused.status_code == 429
    assert TOO_MANY in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert_nothing_leaked(refused, [PASSWORDS["reader"]])
    assert hasher.checks == checks
    assert healthy(server)


# -- checks at once ----------------------------------------------------------------------------


def test_password_checks_wait_for_a_slot_and_tokens_do_not(
    server: Server, hasher: WatchedHasher
) -> None:
    """Six guesses arrive (and are counted); two are hashed while the others wait their turn,
    and a token is checked meanwhile."""
    slots = server.state.checks.password_checks
    _, token = server.runtime.auth.create_token(None, "ci")
    hasher.gate.clear()
    with ThreadPoolExecutor(8) as pool:
        answers = flood(server, pool, guesses("reader", 6))
        wait_until(lambda: server.state.guard.attempts(TESTCLIENT_ADDRESS) == 6)
        wait_until(lambda: hasher.running == slots)
        assert hasher.checks == slots  # the other four wait without hashing
        assert read_page(server, token_auth(token)).status_code == 200
        assert healthy(server)
        hasher.gate.set()
        statuses = [a.result().status_code for a in answers]
    assert set(statuses) <= {401, 429}
    assert hasher.most == slots
    assert hasher.checks == failed_checks(server) == 6


def test_the_right_password_sent_at_once_by_many_requests_is_checked_once(
    server: Server, hasher: WatchedHasher
) -> None:
    hasher.gate.clear()
    with ThreadPoolExecutor(FLOOD) as pool:
        answers = flood(server, pool, [login("reader")] * FLOOD)
        wait_until(lambda: hasher.running == 1)
        hasher.gate.set()
        responses = [a.result() for a in answers]
    assert [r.status_code for r in responses] == [200] * FLOOD
    assert HOSTED_DIST.wheel_filename in responses[0].text
    for _ in range(20):  # and remembered afterwards
        assert read_page(server, login("reader")).status_code == 200
    assert hasher.checks == 1
    assert failed_checks(server) == 0
    assert server.state.guard.attempts(TESTCLIENT_ADDRESS) == 0  # the success reset the count


@pytest.mark.parametrize("setting", ["password_checks", "guard_lock_after", "guard_lockout"])
def test_the_guard_settings_must_be_above_zero(setting: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        Settings.from_env({}, {"data_dir": tmp_path, setting: "0"})
    assert f"Setting {setting!r} must be above 0" in str(refused.value)
