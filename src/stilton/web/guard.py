"""The brute-force guard: failed authentications from one address are slowed down, then refused
for a while with 429 and Retry-After. Other addresses, and successes, are not affected."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from stilton.core.errors import TooManyAttempts


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailureGuard:
    def __init__(
        self,
        *,
        slow_after: int = 3,
        lock_after: int = 10,
        window: float = 60.0,
        lockout: float = 60.0,
    ) -> None:
        self.slow_after = slow_after
        self.lock_after = lock_after
        self.window = window
        self.lockout = lockout
        self._records: dict[str, _Record] = {}

    def check(self, address: str) -> None:
        """Refuse at once while the address is locked out."""
        record = self._records.get(address)
        now = time.monotonic()
        if record is not None and record.locked_until > now:
            raise TooManyAttempts(int(record.locked_until - now) + 1)

    def failed(self, address: str) -> float:
        """Count a failure; returns how long to delay the answer (then lock when it is time)."""
        now = time.monotonic()
        record = self._records.setdefault(address, _Record())
        record.failures.append(now)
        while record.failures and record.failures[0] < now - self.window:
            record.failures.popleft()
        count = len(record.failures)
        if count >= self.lock_after:
            record.locked_until = now + self.lockout
            record.failures.clear()
            raise TooManyAttempts(int(self.lockout))
        if len(self._records) > 100_000:
            self._forget_quiet(now)
        return 0.0 if count < self.slow_after else min(0.25 * 2 ** (count - self.slow_after), 2.0)

    def succeeded(self, address: str) -> None:
        record = self._records.get(address)
        if record is not None and record.locked_until <= time.monotonic():
            del self._records[address]

    def _forget_quiet(self, now: float) -> None:
        for address in [
            a for a, r in self._records.items() if r.locked_until < now and not r.failures
        ]:
            del self._records[address]
