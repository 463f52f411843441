"""Leases: one holder at a time per key across the worker processes that share a data
directory, so that two workers asked for the same uncached page or file fetch it once.

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
from contextlib import asynccontextmanager
from pathlib import Path

logger = logging.getLogger("stilton.leases")

FIRST_WAIT = 0.005  # seconds between tries, doubling up to LONGEST_WAIT
LONGEST_WAIT = 0.05


class FileLeases:
    def __init__(self, path: Path, patience: float = 300.0) -> None:
        self._path = path
        self._patience = patience  # seconds to wait before going ahead without the lease
        self._fd: int | None = None
        self._local: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, and how many want it

    def _descriptor(self) -> int:
        if self._fd is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @staticmethod
    def _offset(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=6).digest(), "big")

    def _try(self, offset: int) -> bool:
        try:
            fcntl.lockf(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except (BlockingIOError, PermissionError):
            return False
        return True

    def _release(self, offset: int) -> None:
        fcntl.lockf(self._descriptor(), fcntl.LOCK_UN, 1, offset)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        """Hold the lease on ``key``; yields whether it was had (False only when another
        process held it past the patience, and the caller goes ahead anyway)."""
        offset = self._offset(key)
        local, users = self._local.get(offset, (asyncio.Lock(), 0))
        self._local[offset] = (local, users + 1)
        try:
            async with local:
                had = await self._acquire(offset, key)
                try:
                    yield had
                finally:
                    if had:
                        self._release(offset)
        finally:
            local, users = self._local[offset]
            if users == 1:
                del self._local[offset]
            else:
                self._local[offset] = (local, users - 1)

    async def _acquire(self, offset: int, key: str) -> bool:
        deadline = time.monotonic() + self._patience
        delay = FIRST_WAIT
        while not self._try(offset):
            if time.monotonic() > deadline:
                logger.warning("another process held %s too long; going ahead without it", key)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_WAIT)
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
