"""The change feed: the one channel through which every change to what an index serves, and to
who may do what, reaches the caches of every process.

A change is a row written in the same transaction as the change itself (``publish``). The
process that made it hears of it right after the commit; every other process (CLI commands,
other workers, other replicas) reads the rows after the last one it saw, at most once per poll
interval (``ChangeFeed``). Ids come from the database and only grow, but on PostgreSQL a lower
id can commit after a higher one is visible, so an id skipped over is asked for again until it
turns up or is old enough to have been rolled back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, delete, func, insert, or_, select

from stilton.core.names import IndexName, ProjectName
from stilton.storage.schema import changes

logger = logging.getLogger("stilton.changes")

PENDING = "stilton.changes"  # key of Connection.info: changes published in this transaction
KEEP_FOR = timedelta(hours=1)  # rows older than this are pruned; a process asleep longer resets
PRUNE_EVERY = 1000  # ids between prunes
HOLE_PATIENCE = 30.0  # seconds an id skipped over is asked for again before it counts as gone
BATCH = 5000  # rows read per poll; a longer backlog invalidates everything instead


class ChangeScope(StrEnum):
    PROJECT = "project"  # one project of one index: its pages, files and the index's list
    LISTING = "listing"  # the list of an index's projects only (a proxy saw a new project)
    INDEX = "index"  # a whole index: its configuration, permissions, members or contents
    AUTH = "auth"  # users, tokens and groups: remembered credentials must be checked again


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    scope: ChangeScope
    index: IndexName | None = None  # None with scope INDEX: every index (a reset)
    project: ProjectName | None = None


RESET = Change(0, ChangeScope.INDEX)  # everything may have changed: drop every cached thing

Listener = Callable[[Sequence[Change]], None]


def publish(
    connection: Connection,
    scope: ChangeScope,
    index: str | None = None,
    project: ProjectName | None = None,
) -> None:
    """Record a change inside the caller's transaction; heard by this process after commit."""
    now = datetime.now(UTC)
    result = connection.execute(
        insert(changes).values(scope=scope.value, index_name=index, project=project, at=now)
    )
    assert result.inserted_primary_key is not None
    change_id = int(result.inserted_primary_key[0])
    connection.info.setdefault(PENDING, []).append(
        Change(change_id, scope, IndexName(index) if index else None, project)
    )
    if change_id % PRUNE_EVERY == 0:
        connection.execute(delete(changes).where(changes.c.at < now - KEEP_FOR))


def take_pending(connection: Connection) -> list[Change]:
    """The changes published on this connection since the last call (cleared)."""
    pending: list[Change] = connection.info.pop(PENDING, [])
    return pending


def _read(connection: Connection, after: int, holes: Sequence[int]) -> list[Change]:
    condition = changes.c.id > after
    if holes:
        condition = or_(condition, changes.c.id.in_(holes))
    rows = connection.execute(select(changes).where(condition).order_by(changes.c.id).limit(BATCH))
    return [
        Change(
            row.id,
            ChangeScope(row.scope),
            IndexName(row.index_name) if row.index_name else None,
            ProjectName(row.project) if row.project else None,
        )
        for row in rows
    ]


def _bounds(connection: Connection) -> tuple[int, int]:
    """The lowest and highest ids still kept (0, 0 when there are none)."""
    row = connection.execute(select(func.min(changes.c.id), func.max(changes.c.id))).one()
    return int(row[0] or 0), int(row[1] or 0)


class ChangeFeed:
    """This process's reader of the feed. Listeners hear its own changes at once and other
    processes' within ``interval`` seconds (0: at every ``poll_if_due``, for tests)."""

    def __init__(
        self, connect: Callable[[], AbstractContextManager[Connection]], interval: float
    ) -> None:
        self._connect = connect
        self.interval = interval
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._last = -1  # the highest id read; -1 before the first poll
        self._holes: dict[int, float] = {}  # skipped ids -> when to stop asking for them
        self._heard: set[int] = set()  # own changes above ``_last``, not to be heard twice
        self._polled_at = float("-inf")
        self._polling = False

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def committed(self, own: Sequence[Change]) -> None:
        """Changes this process just committed: heard now, skipped when polled later."""
        if not own:
            return
        with self._lock:
            self._heard.update(c.id for c in own if c.id > self._last)
        self._tell(own)

    def overdue(self) -> float | None:
        """Seconds since the last poll when another one is due (None: not due, or running)."""
        since = time.monotonic() - self._polled_at
        return None if self._polling or since < self.interval else since

    def poll(self) -> None:
        """Read what other processes changed since the last poll, and tell the listeners."""
        self._polling = True
        try:
            with self._connect() as connection:
                news = self._news(connection)
        finally:
            self._polled_at = time.monotonic()
            self._polling = False
        if news:
            self._tell(news)

    def _news(self, connection: Connection) -> list[Change]:
        with self._lock:
            if self._last < 0:
                self._last = _bounds(connection)[1]
                return []
            read = _read(connection, self._last, sorted(self._holes))
            lowest = _bounds(connection)[0]
            if len(read) >= BATCH or (lowest > self._last + 1 and self._last > 0):
                logger.info("the change feed moved on too far; dropping every cached page")
                self._last, self._holes, self._heard = _bounds(connection)[1], {}, set()
                return [RESET]
            return self._advance(read)

    def _advance(self, read: list[Change]) -> list[Change]:
        now = time.monotonic()
        news = [c for c in read if c.id not in self._heard]
        for change in read:
            self._holes.pop(change.id, None)
            if change.id > self._last:
                self._holes.update(
                    (i, now + HOLE_PATIENCE) for i in range(self._last + 1, change.id)
                )
                self._last = change.id
        self._holes = {i: t for i, t in self._holes.items() if t > now}
        self._heard = {i for i in self._heard if i > self._last}
        return news

    def _tell(self, news: Sequence[Change]) -> None:
        for listener in list(self._listeners):
            listener(news)
