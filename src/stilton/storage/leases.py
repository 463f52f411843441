"""Leases: one holder at a time per key across the worker processes that share a data
directory, so that two workers asked for the same uncached page or file fetch it once.
Replicas on other machines share a PostgreSQL database instead: ``advisory_leases`` holds the
same kind of lease there, behind the same ``Leases`` protocol.

A lease is a POSIX record lock on one byte of one lock file, at an offset taken from the key's
hash: the kernel ends it with its process, so a crash never leaves a lease behind, and nothing
is written anywhere to take or give one back. Within a process, holders of one key take turns
on an asyncio lock (record locks belong to the process, not to a task).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

logger = logging.getLogger("stilton.leases")

FIRST_WAIT = 0.005  # seconds between tries, doubling up to LONGEST_WAIT
LONGEST_WAIT = 0.05


class Leases(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[bool]:
        """Hold the lease on ``key``; yields whether it was had (False only when another
        process held it past the patience, and the caller goes ahead anyway)."""

    def close(self) -> None: ...


def lease_number(key: str) -> int:
    """A key's 48-bit number: a lock file's offset, or an advisory lock's key."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=6).digest(), "big")


class KeyedLeases:
    """Turns within this process (an asyncio lock per key), then the cross-process lock of a
    subclass (``_try``, ``_release``), tried without blocking and waited for with growing
    pauses."""

    def __init__(self, patience: float = 300.0) -> None:
        self._patience = patience  # seconds to wait before going ahead without the lease
        self._local: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, and how many want it

    async def _try(self, number: int) -> bool:
        raise NotImplementedError

    async def _release(self, number: int) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        """Hold the lease on ``key``; yields whether it was had (False only when another
        process held it past the patience, and the caller goes ahead anyway)."""
        number = lease_number(key)
        local, users = self._local.get(number, (asyncio.Lock(), 0))
        self._local[number] = (local, users + 1)
        try:
            async with local:
                had = await self._acquire(number, key)
                try:
                    yield had
                finally:
                    if had:
                        await self._release(number)
        finally:
            local, users = self._local[number]
            if users == 1:
                del self._local[number]
            else:
                self._local[number] = (local, users - 1)

    async def _acquire(self, number: int, key: str) -> bool:
        deadline = time.monotonic() + self._patience
        delay = FIRST_WAIT
        while not await self._try(number):
            if time.monotonic() > deadline:
                logger.warning("another process held %s too long; going ahead without it", key)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_WAIT)
        return True


class FileLeases(KeyedLeases):
    """Leases of the processes of one machine: record locks on a file in the data directory."""

    def __init__(self, path: Path, patience: float = 300.0) -> None:
        super().__init__(patience)
        self._path = path
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    async def _try(self, number: int) -> bool:
        try:
            fcntl.lockf(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, number)
        except (BlockingIOError, PermissionError):
            return False
        return True

    async def _release(self, number: int) -> None:
        fcntl.lockf(self._descriptor(), fcntl.LOCK_UN, 1, number)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
