"""The hot path's memory: rendered pages and file lookups, valid while their index's
generation is unchanged (DESIGN.md, "The hot path").

Generations are read from the database at most once per poll interval, in the background, so
a cache hit touches neither the database nor a renderer; a change made by this process is seen
at once, a change made by another (the CLI, another replica) within the interval.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

K = TypeVar("K")
V = TypeVar("V")


Snapshot = tuple[dict[str, int], dict[str, list[str]]]  # generations, and each group's members


class Generations:
    """The last known generation of every index. A group's is its own plus its members', so a
    change in any member invalidates the group's pages too."""

    def __init__(self, load: Callable[[], Snapshot], interval: float) -> None:
        self._load = load
        self._interval = interval
        self._values: dict[str, int] = {}
        self._members: dict[str, list[str]] = {}
        self._effective: dict[str, int] = {}
        self._dirty = False
        self._loaded_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None

    def mark_changed(self) -> None:
        """This process changed something: read the generations again before the next use."""
        self._dirty = True

    def current(self, index: str) -> int:
        """The generation to key caches with; schedules a background refresh when stale."""
        if self._dirty:
            self._dirty = False
            self.refresh_now()
        if time.monotonic() - self._loaded_at > self._interval and self._refreshing is None:
            try:
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
            except RuntimeError:
                self.refresh_now()
        return self._effective.get(index, -1)

    async def _refresh(self) -> None:
        try:
            await run_in_threadpool(self.refresh_now)
        finally:
            self._refreshing = None

    def refresh_now(self) -> None:
        """Read every generation now (after this process changed something)."""
        self._values, self._members = self._load()
        self._effective = {name: self._sum(name, frozenset()) for name in self._values}
        self._loaded_at = time.monotonic()

    def _sum(self, name: str, seen: frozenset[str]) -> int:
        if name in seen:
            return 0
        members = self._members.get(name, ())
        return self._values.get(name, 0) + sum(self._sum(m, seen | {name}) for m in members)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    generation: int
    value: V
    expires_at: float | None  # time.monotonic(); None: only a new generation ends it


class GenerationCache(Generic[K, V]):
    """A bounded LRU map whose entries die when their index's generation moves on, or when
    their own time is up (a proxy's page must be checked with its upstream again)."""

    def __init__(self, generations: Generations, max_entries: int = 20_000) -> None:
        self._generations = generations
        self._entries: OrderedDict[tuple[str, K], _Entry[V]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, index: str, key: K) -> V | None:
        entry = self._entries.get((index, key))
        if entry is None:
            return None
        expired = entry.expires_at is not None and time.monotonic() >= entry.expires_at
        if expired or entry.generation != self._generations.current(index):
            del self._entries[(index, key)]
            return None
        self._entries.move_to_end((index, key))
        return entry.value

    def put(self, index: str, key: K, generation: int, value: V, ttl: float | None = None) -> None:
        expires_at = None if ttl is None else time.monotonic() + ttl
        self._entries[(index, key)] = _Entry(generation, value, expires_at)
        self._entries.move_to_end((index, key))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
