"""The brute-force guard, and the bound on password checks running at once.

``FailureGuard`` counts credential checks per client address in the database, so every worker
and replica counts the same ones. A check is counted the moment it arrives, before anything is
hashed; once ``lock_after`` checks were begun in the window, the address is locked out for a
while (429 with Retry-After), and every check it asks for is refused before any hashing
(credentials that address proved a moment ago are not checked again: ``AuthService``). Failures
past ``slow_after`` are answered slower. A success starts the count again; a lockout runs its
course. Other addresses are not affected.

``CredentialChecks`` is this process's part: concurrent requests with the same credentials from
the same address share one check (and count once), and at most ``password_checks`` argon2
checks run at once; the others wait their turn as coroutines, holding no hashing memory.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from stilton.auth.credentials import Credentials
from stilton.core.errors import TooManyAttempts
from stilton.core.permissions import Principal
from stilton.indexes.single_flight import SingleFlight
from stilton.settings import Settings
from stilton.storage import guard as counts_store
from stilton.storage.database import Database
from stilton.storage.guard import AddressCounts

PRUNE_EVERY = 200  # checks counted by this process between two prunes of quiet addresses


def _now() -> datetime:
    # Wall-clock time: the counts are shared by processes (and by hosts, on PostgreSQL).
    return datetime.now(UTC)


def _seconds_until(moment: datetime, now: datetime) -> int:
    """A Retry-After value: whole seconds, at least one."""
    return max(1, math.ceil((moment - now).total_seconds()))


def _lockout_left(counts: AddressCounts | None, now: datetime) -> int | None:
    """Seconds left of the address's lockout, for Retry-After (None: not locked out)."""
    if counts is None or counts.locked_until is None or counts.locked_until <= now:
        return None
    return _seconds_until(counts.locked_until, now)


class FailureGuard:
    def __init__(
        self,
        database: Database,
        *,
        slow_after: int = 3,
        lock_after: int = 10,
        window: float = 60.0,
        lockout: float = 60.0,
    ) -> None:
        self.database = database
        self.slow_after = slow_after
        self.lock_after = lock_after
        self.window = timedelta(seconds=window)
        self.lockout = timedelta(seconds=lockout)
        self._counted = 0

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> FailureGuard:
        return cls(
            database,
            slow_after=settings.guard_slow_after,
            lock_after=settings.guard_lock_after,
            window=settings.guard_window,
            lockout=settings.guard_lockout,
        )

    def attempts(self, address: str) -> int:
        """How many checks the address began in its current window (for operators and tests)."""
        with self.database.connect() as connection:
            counts = counts_store.find_counts(connection, address)
        if counts is None or counts.window_started <= _now() - self.window:
            return 0
        return counts.attempts

    def attempt(self, address: str) -> None:
        """Count a check that is about to run, before any hashing; refuse it (and lock the
        address out) when the window has had ``lock_after`` checks already."""
        now = _now()
        with self.database.connect() as connection:
            known = counts_store.find_counts(connection, address)
        left = _lockout_left(known, now)
        if left is not None:
            # A read is enough, and takes no write lock: a flood from a locked-out address
            # does not queue behind the database's writers.
            raise TooManyAttempts(left)
        with self.database.begin() as connection:
            counts = counts_store.hold_counts(connection, address, now)
            counted, retry_after = self._counted_at(counts, now)
            if counted != counts:
                counts_store.save_counts(connection, address, counted)
            self._prune_now_and_then(connection, now)
        if retry_after is not None:
            raise TooManyAttempts(retry_after)

    def _counted_at(self, counts: AddressCounts, now: datetime) -> tuple[AddressCounts, int | None]:
        """The counts with one more check, or unchanged and the seconds to wait."""
        left = _lockout_left(counts, now)
        if left is not None:
            return counts, left
        if counts.locked_until is not None or counts.window_started <= now - self.window:
            counts = AddressCounts(0, now)  # a new window, after a lockout or a quiet spell
        if counts.attempts >= self.lock_after:
            return self._locked(counts, now), self._lockout_seconds
        return replace(counts, attempts=counts.attempts + 1), None

    def failed(self, address: str) -> float:
        """A check failed: refuse (429) if the address is locked out or its window is full
        (then lock it out); otherwise the seconds by which to delay the answer."""
        now = _now()
        with self.database.begin() as connection:
            counts = counts_store.hold_counts(connection, address, now)
            left = _lockout_left(counts, now)
            if left is None and counts.attempts >= self.lock_after:
                counts_store.save_counts(connection, address, self._locked(counts, now))
                left = self._lockout_seconds
        if left is not None:
            raise TooManyAttempts(left)
        return self._delay(counts.attempts)

    def succeeded(self, address: str) -> None:
        """A check succeeded: the address starts counting again (unless locked out)."""
        with self.database.begin() as connection:
            counts_store.forget_address(connection, address, _now())

    @property
    def _lockout_seconds(self) -> int:
        return max(1, math.ceil(self.lockout.total_seconds()))

    def _locked(self, counts: AddressCounts, now: datetime) -> AddressCounts:
        return replace(counts, locked_until=now + self.lockout)

    def _delay(self, attempts: int) -> float:
        if attempts < self.slow_after:
            return 0.0
        return float(min(0.25 * 2 ** (attempts - self.slow_after), 2.0))

    def _prune_now_and_then(self, connection: Connection, now: datetime) -> None:
        self._counted += 1
        if self._counted % PRUNE_EVERY == 0:
            counts_store.prune(connection, now - self.window, now)


class CredentialChecks:
    """This process's credential checks: one per (address, credentials) at a time, and at most
    ``password_checks`` password checks at once."""

    def __init__(self, password_checks: int) -> None:
        self.password_checks = password_checks
        self._passwords = asyncio.Semaphore(password_checks)
        self._flights: SingleFlight[Principal] = SingleFlight()

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialChecks:
        return cls(settings.password_checks)

    async def once(
        self, key: Hashable, check: Callable[[], Coroutine[Any, Any, Principal]]
    ) -> Principal:
        """Run the check, or wait for the same one already running and share its outcome."""
        return await self._flights.run(key, check)

    @asynccontextmanager
    async def turn(self, credentials: Credentials) -> AsyncIterator[None]:
        """A password check waits for a free slot; a token check (a sha256) goes at once."""
        if credentials.is_token:
            yield
            return
        async with self._passwords:
            yield
