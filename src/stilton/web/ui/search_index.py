"""Keeping the search index current, and asking it.

Hosted projects are followed through the journal (``storage.search.catch_up``); a proxy's
projects are the pages it keeps, synced when the change feed says its list moved. The feed is
only a hint to do it sooner: a search first catches up with whatever the journal holds, so it
never misses a change made by another worker, a replica or ``stilton import``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Collection, Sequence

from starlette.concurrency import run_in_threadpool

from stilton.core.errors import StiltonError
from stilton.core.model import IndexKind
from stilton.runtime import Runtime
from stilton.storage import search
from stilton.storage.changes import RESET, Change, ChangeScope
from stilton.storage.search import SearchDoc, SearchHit

logger = logging.getLogger("stilton.search")
LISTS = (ChangeScope.LISTING, ChangeScope.INDEX)  # changes that may move a proxy's list
FOLLOW_INTERVAL = 1.0  # seconds between looks for changes heard


class SearchIndex:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._proxies: set[str] | None = None  # proxies whose list moved; None: all of them
        self._due = True
        runtime.feed.subscribe(self._heard)

    def _heard(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change == RESET or (change.scope is ChangeScope.INDEX and change.index is None):
                self._proxies = None
            elif self._proxies is not None and change.index and change.scope in LISTS:
                self._proxies.add(change.index)
        self._due = True

    def refresh(self) -> None:
        """Follow the journal to its end and sync the proxies whose list moved. What is
        already current is found by reading: a write (the database's one writer at a time)
        happens only for something to write. The index is derived data: its writes need not
        be durable."""
        with self._lock:
            self._due = False
            database = self._runtime.database
            while self._behind():
                with database.begin(durable=False) as connection:
                    if search.catch_up(connection) < search.BATCH:
                        break
            proxies, self._proxies = self._proxies, set()
            for record in self._runtime.list_indexes():
                if record.kind is IndexKind.PROXY and (proxies is None or record.name in proxies):
                    with database.connect() as connection:
                        added, dropped = search.proxy_changes(connection, record)
                    if added or dropped:
                        with database.begin(durable=False) as connection:
                            search.sync_proxy(connection, record.name, added, dropped)

    def _behind(self) -> bool:
        with self._runtime.database.connect() as connection:
            return search.behind(connection)

    def refresh_if_behind(self) -> None:
        if self._due or self._behind():
            self.refresh()

    async def follow(self) -> None:
        """The background task: build the index at start, then follow what is heard."""
        while True:
            if self._due:
                try:
                    await run_in_threadpool(self.refresh)
                except StiltonError as exc:
                    logger.warning("cannot update the search index: %s", exc)
            await asyncio.sleep(FOLLOW_INTERVAL)

    def search(self, query: str, within: Collection[str], limit: int) -> list[SearchHit]:
        self.refresh_if_behind()
        with self._runtime.database.connect() as connection:
            return search.search(connection, query, within, limit)

    def docs(self, within: Collection[str]) -> dict[tuple[str, str], SearchDoc]:
        self.refresh_if_behind()
        with self._runtime.database.connect() as connection:
            return {(d.index, d.name): d for d in search.docs_of(connection, within)}

    def learnt(self, doc: SearchDoc) -> None:
        """What a proxy's project page taught (its summary and latest version)."""
        with self._runtime.database.begin() as connection:
            known = search.find_doc(connection, doc.index, doc.name)
            if known is not None and (known.summary, known.version) != (doc.summary, doc.version):
                search.put_doc(connection, doc)
