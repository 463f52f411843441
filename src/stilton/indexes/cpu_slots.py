"""Threads for the CPU-heavy steps of serving a project page: parsing an upstream page,
rendering a big page. As many run at once as the process has cores. More would not finish
sooner (they share one interpreter lock), but each would hold a page's worth of buffers at
once: a cold install asks for ~100 pages together.

After each step the C allocator is asked to give its free pages back to the system
(glibc's ``malloc_trim``): a step frees tens of megabytes, which glibc otherwise keeps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from functools import cache
from typing import TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def default_slots() -> int:
    """One slot per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
    """A fixed number of worker threads' turns, shared by every index of a process."""

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
