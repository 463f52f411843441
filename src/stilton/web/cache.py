"""The hot path's memory: rendered pages and file lookups, each valid while nothing it was made
from has changed (DESIGN.md, "The hot path").

``Versions`` counts, per index and per project, the changes this process has heard of through
the change feed (``storage.changes``): its own at once, other processes' within the poll
interval. A cached thing remembers the counters of every index it was made from (a group's
members included) and dies when one of them moves; so an upload to one project, or a proxy
learning one file's digest, invalidates that project's pages only, never the whole index.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from stilton.storage.changes import Change, ChangeFeed, ChangeScope

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Stamp = tuple[int, tuple[tuple[str, int, int], ...]]


class Versions:
    """What changed, as counters that only grow; ``stamp`` is what a cached thing keeps."""

    def __init__(self, feed: ChangeFeed, load_groups: Callable[[], dict[str, list[str]]]) -> None:
        self._feed = feed
        self._load_groups = load_groups
        self._lock = threading.Lock()
        self._epoch = 0
        self._index: dict[str, int] = {}
        self._project: dict[tuple[str, str], int] = {}
        self._listing: dict[str, int] = {}
        self._members = load_groups()
        self._closures: dict[str, tuple[str, ...]] = {}
        self._polling: asyncio.Future[None] | None = None
        feed.subscribe(self.apply)

    def apply(self, changes: Sequence[Change]) -> None:
        regroup = False
        with self._lock:
            for change in changes:
                if change.scope is ChangeScope.PROJECT and change.index and change.project:
                    key = (change.index, change.project)
                    self._project[key] = self._project.get(key, 0) + 1
                    self._listing[change.index] = self._listing.get(change.index, 0) + 1
                elif change.scope is ChangeScope.LISTING and change.index:
                    self._listing[change.index] = self._listing.get(change.index, 0) + 1
                elif change.scope is ChangeScope.INDEX and change.index is None:
                    self._epoch += 1
                    regroup = True
                elif change.scope is ChangeScope.INDEX and change.index:
                    self._index[change.index] = self._index.get(change.index, 0) + 1
                    regroup = True
        if regroup:
            members = self._load_groups()
            with self._lock:
                self._members, self._closures = members, {}

    def stamp(self, index: str, project: str | None = None) -> Stamp:
        """The counters a thing of ``index`` (about ``project``, or its project list) is made
        under: the index's own and, for a group, every member's."""
        self._poll_if_due()
        if project is None:
            return self._epoch, tuple(
                (m, self._index.get(m, 0), self._listing.get(m, 0)) for m in self._closure(index)
            )
        return self._epoch, tuple(
            (m, self._index.get(m, 0), self._project.get((m, project), 0))
            for m in self._closure(index)
        )

    def catch_up(self) -> None:
        """Hear every change committed so far, now (a database read: run it off the loop)."""
        self._feed.poll()

    def index_stamp(self, index: str) -> Stamp:
        """The counters of an index's configuration (and its members')."""
        self._poll_if_due()
        return self._epoch, tuple((m, self._index.get(m, 0), 0) for m in self._closure(index))

    def _closure(self, index: str) -> tuple[str, ...]:
        closure = self._closures.get(index)
        if closure is None:
            found: list[str] = []
            pending = [index]
            while pending:
                name = pending.pop()
                if name not in found:
                    found.append(name)
                    pending.extend(self._members.get(name, ()))
            closure = self._closures[index] = tuple(found)
        return closure

    def _poll_if_due(self) -> None:
        """The app polls every interval in the background; this is for when it cannot (no
        running loop, an interval of 0 in tests, a poller that fell behind)."""
        overdue = self._feed.overdue()
        if overdue is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._feed.interval <= 0 or overdue > 2 * self._feed.interval:
            self._feed.poll()
        elif self._polling is None or self._polling.done():
            self._polling = loop.run_in_executor(None, self._feed.poll)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    project: str | None
    stamp: Stamp
    value: V
    weight: int
    expires_at: float | None  # time.monotonic(); None: only a change ends it


class StampedCache(Generic[K, V]):
    """A map bounded by bytes, least recently used first out, whose entries die when what they
    were made from changes, or when their own time is up (a proxy's page must be checked with
    its upstream again)."""

    def __init__(self, versions: Versions, max_bytes: int, weigh: Callable[[V], int]) -> None:
        self._versions = versions
        self._entries: OrderedDict[tuple[str, K], _Entry[V]] = OrderedDict()
        self._max_bytes = max_bytes
        self._weigh = weigh
        self._bytes = 0

    def get(self, index: str, key: K) -> V | None:
        entry = self._entries.get((index, key))
        if entry is None:
            return None
        expired = entry.expires_at is not None and time.monotonic() >= entry.expires_at
        if expired or entry.stamp != self._versions.stamp(index, entry.project):
            self._drop((index, key))
            return None
        self._entries.move_to_end((index, key))
        return entry.value

    def put(
        self,
        index: str,
        key: K,
        value: V,
        *,
        project: str | None,
        stamp: Stamp,
        ttl: float | None = None,
    ) -> None:
        """Keep ``value``, made under ``stamp`` (taken before it was made, so a change that
        happened meanwhile is not missed)."""
        weight = self._weigh(value)
        if weight > self._max_bytes // 4:
            return  # one thing never crowds out most of the cache
        self._drop((index, key))
        expires_at = None if ttl is None else time.monotonic() + ttl
        self._entries[(index, key)] = _Entry(project, stamp, value, weight, expires_at)
        self._bytes += weight
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, K]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.weight

    @property
    def size(self) -> int:
        """Bytes held (as weighed)."""
        return self._bytes
