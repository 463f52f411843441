"""The brute-force guard of a server with two worker processes is one guard: guesses from one
address count together wherever they land, so the address is locked out after the same number
of checks as with one worker, on both, and a success anywhere starts the count again. Other
addresses are not affected. Each test guesses from addresses of its own."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth
from tests.support.workers import (
    TRUSTING,
    add_user,
    everywhere,
    failed_logins,
    fresh,
    healthy,
    private_index,
)

pytestmark = pytest.mark.e2e

LOCK_AFTER = 10  # the default guard_lock_after
GUESSES = 24
PASSWORD = "dora-password-1"
PAGE = "/vault/simple/"
TOO_MANY = "Too many failed authentication attempts from this address"
INVALID = "needs valid credentials"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    # No slower answers (guard_slow_after above the limit): they are tested in-process; here
    # they would only make the test wait.
    settings = {**TRUSTING, "guard_slow_after": "100"}
    with StiltonServer(tmp_path_factory.mktemp("guard"), workers=2, settings=settings) as running:
        add_user(running, "dora", PASSWORD, "vault-readers")
        private_index(running, "vault", "group:vault-readers")
        yield running


def read(server: StiltonServer, address: str, password: str) -> httpx.Response:
    """One request on a connection of its own, from ``address``."""
    with fresh(server, address) as client:
        return client.get(PAGE, headers=basic_auth("dora", password))


def answer(client: httpx.Client) -> int:
    """The status of a read with the right password, on ``client``'s next connection."""
    return client.get(PAGE, headers=basic_auth("dora", PASSWORD)).status_code


def guess(server: StiltonServer, address: str, n: int) -> httpx.Response:
    return read(server, address, f"guess-{n:03d}-wrong")


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert TOO_MANY in response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert PASSWORD not in response.text


def test_concurrent_guesses_over_both_workers_are_checked_only_up_to_the_limit(
    server: StiltonServer,
) -> None:
    address = "203.0.113.1"
    with ThreadPoolExecutor(GUESSES + 4) as pool:
        answers = [pool.submit(guess, server, address, n) for n in range(GUESSES)]
        during = [pool.submit(healthy, server) for _ in range(4)]
        responses = [a.result() for a in answers]
        assert all(h.result() for h in during)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(429) >= GUESSES - LOCK_AFTER
    for response in responses:
        assert (INVALID if response.status_code == 401 else TOO_MANY) in response.text
    assert failed_logins(server, address) == LOCK_AFTER
    # Locked out on both workers, even with the right password, which is not checked.
    assert everywhere(server, lambda c: answer(c) == 429, address)
    assert_refused(read(server, address, PASSWORD))
    assert failed_logins(server, address) == LOCK_AFTER
    assert healthy(server)


def test_another_address_logs_in_while_one_is_locked_out(server: StiltonServer) -> None:
    locked, other = "203.0.113.2", "203.0.113.3"
    for n in range(LOCK_AFTER):
        guess(server, locked, n)
    assert_refused(read(server, locked, PASSWORD))
    allowed = read(server, other, PASSWORD)
    assert allowed.status_code == 200
    assert everywhere(server, lambda c: answer(c) == 200, other)


def test_one_guess_after_another_locks_at_the_limit_whichever_worker_answers(
    server: StiltonServer,
) -> None:
    address = "203.0.113.4"
    statuses = [guess(server, address, n).status_code for n in range(LOCK_AFTER + 2)]
    # The tenth failure locks the address out; a guard per worker would allow up to 19.
    assert statuses == [401] * (LOCK_AFTER - 1) + [429] * 3
    assert failed_logins(server, address) == LOCK_AFTER
    assert healthy(server)


def test_a_success_on_any_worker_starts_the_count_again(server: StiltonServer) -> None:
    address = "203.0.113.5"
    for round_ in range(2):
        first = [guess(server, address, 100 * round_ + n).status_code for n in range(6)]
        assert first == [401] * 6
        assert read(server, address, PASSWORD).status_code == 200
    # Twelve failures in the window, never ten since a success.
    assert failed_logins(server, address) == 12
    assert healthy(server)
