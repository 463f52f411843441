"""A thread for the CPU-heavy steps of serving a project page: parsing an upstream page,
rendering a big page, reading and writing a kept one. One step runs at a time in a process:
they share one interpreter lock, so a second would finish nothing sooner, and the threads only
took the lock from each other and from the event loop: in 15 alternating cold installs of
~100 real-size pages with one worker, one slot instead of one per core took less server CPU in
12 (by 12% at the median), and with two workers no more. Taking turns also bounds the
buffers the steps hold: a cold install asks for ~100 pages together.

After each step the C allocator is asked to give its free pages back to the system
(glibc's ``malloc_trim``): a step frees tens of megabytes, which glibc otherwise keeps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache
from typing import TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


SLOTS = 1  # steps at once in a process


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, where the C library is glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    return trim if callable(trim) else None


def release_free_memory() -> None:
    """Give the C allocator's free pages back to the system, where it can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _then_release(work: Callable[[*Ts], T], *args: *Ts) -> T:
    try:
        return work(*args)
    finally:
        release_free_memory()


class CpuSlots:
    """Worker threads' turns (``SLOTS``), shared by every index of a process."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._limiter: CapacityLimiter | None = None

    async def run(self, work: Callable[[*Ts], T], *args: *Ts, small: bool = False) -> T:
        """``work(*args)`` in a worker thread, once a slot is free; ``small`` work (under a
        millisecond, e.g. a page of a few dozen files) runs at once instead: handing it to a
        thread and back costs as much, and more when the thread wakes on another core. Cold
        3-file pages asked for one after another took 4.8-5.6 ms each with their parse and
        render run at once, against 4.9-7.6 ms with both handed off (alternating runs)."""
        if small:
            return work(*args)
        if self._limiter is None:  # made in a running event loop, as anyio requires
            self._limiter = CapacityLimiter(self.slots)
        return await to_thread.run_sync(_then_release, work, *args, limiter=self._limiter)
