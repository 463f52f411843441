"""A proxy's upstream project pages: fetched once (one request in this process, one holder of
the page's lease across processes), answered as soon as they are parsed, kept as one compressed
document per project (saved in the background), held in memory as parsed pages within a byte
budget, reused for the TTL, revalidated after it, and served stale when the upstream fails.

What a page serves never changes behind a reader's back except through the TTL: every process
reuses a page for at most the TTL after the upstream confirmed it, so a refresh by one process
needs to tell the others nothing. What the proxy learns about one file (a digest, metadata)
does change a page at once, and is published on the change feed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from functools import partial

from anyio import to_thread

from stilton.core.model import ProjectDetail
from stilton.core.names import IndexName, ProjectName
from stilton.core.telemetry import NO_TELEMETRY, Telemetry
from stilton.core.upstream import UpstreamConfig, UpstreamFormat
from stilton.indexes.cpu_slots import CpuSlots
from stilton.indexes.single_flight import SingleFlight
from stilton.indexes.upstream_health import UpstreamHealth
from stilton.storage import upstream_cache
from stilton.storage.catalog import IndexRecord
from stilton.storage.changes import RESET, Change, ChangeScope, publish
from stilton.storage.database import Database
from stilton.storage.leases import Leases
from stilton.storage.upstream_cache import FileFacts, StoredPage
from stilton.upstream.client import PageResponse, UpstreamClient, Validators
from stilton.upstream.compact import decode_file, decode_page, encode_page
from stilton.upstream.model import PageFiles, UpstreamFile, UpstreamPage, file_of, learnt_row
from stilton.upstream.pages import parse_project_page

logger = logging.getLogger("stilton.proxy")

# An upstream page this small (~100 files of JSON) is parsed at once, not in a thread.
SMALL_PAGE_BYTES = 32 * 1024
BYTES_PER_FILE = 900  # one file of a page in memory (tracemalloc: rows 740-840, objects +300)


def _now() -> datetime:
    return datetime.now(UTC)


class KnownPage:
    """An upstream page as this process knows it, with what was learnt about its files."""

    __slots__ = (
        "_detail",
        "_unhashed",
        "checked_at",
        "etag",
        "facts",
        "fetched_at",
        "last_modified",
        "page",
    )

    def __init__(
        self,
        page: UpstreamPage,
        *,
        etag: str | None,
        last_modified: str | None,
        fetched_at: datetime,
        checked_at: datetime,
        facts: Mapping[str, FileFacts],
    ) -> None:
        self.page = page
        self.etag = etag
        self.last_modified = last_modified
        self.fetched_at = fetched_at
        self.checked_at = checked_at
        self.facts = facts
        self._detail: ProjectDetail | None = None
        self._unhashed: list[UpstreamFile] | None = None

    def detail(self, build: Callable[[KnownPage], ProjectDetail]) -> ProjectDetail:
        """The page as a project detail, built once (a page may list 15,000 files)."""
        if self._detail is None:
            self._detail = build(self)
        return self._detail

    @property
    def weight(self) -> int:
        return 2000 + BYTES_PER_FILE * len(self.page.files)

    def age(self, now: datetime) -> float:
        return (now - self.checked_at).total_seconds()

    def confirmed(self, when: datetime) -> KnownPage:
        confirmed = KnownPage(
            self.page, etag=self.etag, last_modified=self.last_modified,
            fetched_at=self.fetched_at, checked_at=when, facts=self.facts,
        )  # fmt: skip
        confirmed._detail = self._detail
        confirmed._unhashed = self._unhashed
        return confirmed

    def files(self) -> PageFiles:
        """Every file, with what was learnt about it (a computed digest, metadata)."""
        return self.page.files.learnt(self.facts)

    def served(self) -> PageFiles:
        """The files the proxy serves: those whose sha256 is known, given or learnt."""
        return self.files().hashed()

    def file(self, filename: str) -> UpstreamFile | None:
        row = self.page.files.find_row(filename)
        return file_of(learnt_row(row, self.facts.get(filename))) if row is not None else None

    def unhashed(self) -> list[UpstreamFile]:
        """The files the upstream gave no sha256 for, and whose digest is not learnt yet
        (found once: every lookup of the page asks)."""
        if self._unhashed is None:
            facts = self.facts
            rows = self.page.files.rows
            self._unhashed = [file_of(row) for row in rows if not row[3] and row[0] not in facts]
        return self._unhashed


class PageMemory:
    """Parsed pages of every proxy of this process, least recently used out past a byte
    budget; a page is dropped when the change feed says something learnt about its files.
    Pages are parsed in ``slots``, so those being parsed are bounded too.

    Beside them, the last few pages read back for one file only (``ProxyPages.known_file``):
    a cold install asks for each file twice (its metadata, then the file), each time through
    a group as well, while its page may be out of memory."""

    ENTRIES = 512  # pages of one file kept (each a few hundred bytes)

    def __init__(self, max_bytes: int, slots: CpuSlots | None = None) -> None:
        self.slots = slots if slots is not None else CpuSlots(1)
        self._max_bytes = max_bytes
        self._pages: OrderedDict[tuple[str, str], KnownPage] = OrderedDict()
        self._entries: OrderedDict[tuple[str, str, str], KnownPage] = OrderedDict()
        self._bytes = 0
        self._changes = 0  # changes heard: a page read before one may be stale
        self._lock = threading.Lock()

    def get(self, index: str, name: str) -> KnownPage | None:
        with self._lock:
            known = self._pages.get((index, name))
            if known is not None:
                self._pages.move_to_end((index, name))
            return known

    def put(self, index: str, name: str, known: KnownPage) -> None:
        with self._lock:
            self._drop((index, name))
            self._drop_entries((index, name))  # this process refreshed the page
            if known.weight > self._max_bytes // 2:
                return
            self._pages[(index, name)] = known
            self._bytes += known.weight
            while self._bytes > self._max_bytes:
                self._drop(next(iter(self._pages)))

    def mark(self) -> int:
        """Taken before a page is read back: ``put_entry`` refuses it if a change was heard
        in the meantime."""
        return self._changes

    def get_entry(self, index: str, name: str, filename: str) -> KnownPage | None:
        with self._lock:
            return self._entries.get((index, name, filename))

    def put_entry(self, index: str, name: str, filename: str, known: KnownPage, mark: int) -> None:
        with self._lock:
            if mark != self._changes or (index, name) in self._pages:
                return
            self._entries[(index, name, filename)] = known
            if len(self._entries) > self.ENTRIES:
                self._entries.popitem(last=False)

    def heard(self, changes: Sequence[Change]) -> None:
        with self._lock:
            for change in changes:
                if change == RESET:
                    self._changes += 1
                    self._pages.clear()
                    self._entries.clear()
                    self._bytes = 0
                elif change.scope is ChangeScope.PROJECT and change.index and change.project:
                    self._changes += 1
                    self._drop((change.index, change.project))
                    self._drop_entries((change.index, change.project))
                elif change.scope is ChangeScope.INDEX and change.index:
                    self._changes += 1
                    for key in [k for k in self._pages if k[0] == change.index]:
                        self._drop(key)
                    self._entries = OrderedDict(
                        (k, v) for k, v in self._entries.items() if k[0] != change.index
                    )

    def _drop(self, key: tuple[str, str]) -> None:
        known = self._pages.pop(key, None)
        if known is not None:
            self._bytes -= known.weight

    def _drop_entries(self, key: tuple[str, str]) -> None:
        """Forget a project's pages of one file (a page out of memory for lack of room keeps
        them: they are read back for that very reason)."""
        if self._entries:
            for entry in [k for k in self._entries if k[:2] == key]:
                del self._entries[entry]


class ProxyPages:
    def __init__(
        self,
        record: IndexRecord,
        config: UpstreamConfig,
        database: Database,
        client: UpstreamClient,
        memory: PageMemory,
        leases: Leases,
        *,
        health: UpstreamHealth,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.record = record
        self.health = health
        self.config = config
        self.database = database
        self.client = client
        self.memory = memory
        self.leases = leases
        self._refreshes: SingleFlight[KnownPage | None] = SingleFlight(
            lambda: telemetry.joined("page")
        )
        self._saving: set[asyncio.Task[None]] = set()
        self._unsaved: dict[ProjectName, int] = {}  # pages answered, not kept yet: their serials

    @property
    def name(self) -> IndexName:
        return self.record.name

    def list(self) -> list[tuple[ProjectName, int]]:
        """The projects kept, and those answered but still being saved, with their serials."""
        with self.database.connect() as connection:
            kept = dict(upstream_cache.list_pages(connection, self.record))
        return sorted({**self._unsaved, **kept}.items())

    async def known(self, name: ProjectName) -> KnownPage | None:
        """The page as last known, fresh or not, without asking the upstream."""
        known = self.memory.get(self.name, name)
        if known is None:
            known = await self.memory.slots.run(self._load, name)
            if known is not None:
                self.memory.put(self.name, name, known)
        return known

    async def known_file(self, name: ProjectName, filename: str) -> KnownPage | None:
        """The page as last known, as ``known`` gives it, or, where it is not in memory, with
        only the file ``filename`` read from the kept page (remembered for the TTL at most:
        another process may have refreshed the kept page since)."""
        memory = self.memory
        known = memory.get(self.name, name)
        if known is None:
            known = memory.get_entry(self.name, name, filename)
            if known is not None and not self._fresh(known):
                known = None
        if known is None:
            mark, read = memory.mark(), partial(decode_file, filename=filename)
            known = await memory.slots.run(self._load, name, read)
            if known is not None:
                memory.put_entry(self.name, name, filename, known, mark)
        return known

    async def fresh_file(self, name: ProjectName, filename: str) -> KnownPage | None:
        """The page as ``find`` gives it without asking the upstream, as ``known_file`` reads
        it (at least the file ``filename``, where listed); None where ``find`` would ask."""
        known = await self.known_file(name, filename)
        return known if known is not None and self._fresh(known) else None

    def _fresh(self, known: KnownPage) -> bool:
        """Within the TTL (or offline, where every page is served as it was kept)."""
        return self.config.offline or known.age(_now()) < self.config.ttl

    async def find(self, name: ProjectName) -> KnownPage | None:
        """The page, fresh (revalidated after the TTL; raises UpstreamError if the upstream
        fails and nothing is kept)."""
        known = self.memory.get(self.name, name)
        if known is None and (self.config.offline or not self.health.healthy):
            known = await self.known(name)  # kept by this process or another, or none
        if known is not None and self._fresh(known):
            return known
        if self.config.offline:
            return None
        # Marked unhealthy: not waited for (nor the lease of a process that waits for it).
        self.health.check()
        # Not in memory: read under the lease (another process may be fetching it), once.
        return await self._refreshes.run(name, lambda: self._refresh(name, known))

    def _load(
        self, name: ProjectName, decode: Callable[[bytes], UpstreamPage] = decode_page
    ) -> KnownPage | None:
        with self.database.connect() as connection:
            stored = upstream_cache.find_page(connection, self.record, name)
            if stored is None:
                return None
            facts = upstream_cache.find_facts(connection, self.record, name)
        try:
            page = decode(stored.document)
        except ValueError as exc:
            logger.warning("the kept page of %s in %s is unreadable: %s", name, self.name, exc)
            return None
        return KnownPage(
            page, etag=stored.etag, last_modified=stored.last_modified,
            fetched_at=stored.fetched_at, checked_at=stored.checked_at, facts=facts,
        )  # fmt: skip

    # -- asking the upstream -------------------------------------------------------------------

    async def _refresh(self, name: ProjectName, known: KnownPage | None) -> KnownPage | None:
        """One process at a time asks the upstream for a page; one that waited for another
        takes what that one kept."""
        stack = AsyncExitStack()
        await stack.enter_async_context(self.leases.hold(f"page {self.record.id} {name}"))
        try:
            kept = await self.memory.slots.run(self._load, name)
            if kept is not None and kept.age(_now()) < self.config.ttl:
                self.memory.put(self.name, name, kept)
                await stack.aclose()
                return kept
            known = kept or known
            response = await self.client.fetch_page(self._page_url(name), _validators(known))
            return await self._answer(name, known, response, stack)
        except BaseException:
            await stack.aclose()
            raise

    def _page_url(self, name: ProjectName) -> str:
        if self.config.format is UpstreamFormat.FIND_LINKS:
            return self.config.url
        return self.client.project_url(name)

    async def _answer(
        self,
        name: ProjectName,
        known: KnownPage | None,
        response: PageResponse,
        lease: AsyncExitStack,
    ) -> KnownPage | None:
        now = _now()
        if response.status == 304 and known is not None:
            return self._keep(name, known.confirmed(now), lease, confirm_only=True)
        if response.status in (304, 404):
            await to_thread.run_sync(self._forget, name)
            await lease.aclose()
            return None
        small = len(response.body) <= SMALL_PAGE_BYTES
        page = await self.memory.slots.run(self._parse, name, response, small=small)
        if page.serial is not None and known is not None and (known.page.serial or 0) > page.serial:
            # A stale copy (a CDN that has not caught up): keep what we have.
            logger.info(
                "ignoring %s's page at serial %s < %s", name, page.serial, known.page.serial
            )
            return self._keep(name, known.confirmed(now), lease, confirm_only=True)
        if not page.files and self.config.format is UpstreamFormat.FIND_LINKS:
            await to_thread.run_sync(self._forget, name)
            await lease.aclose()
            return None
        fresh = KnownPage(
            page, etag=response.etag, last_modified=response.last_modified,
            fetched_at=now, checked_at=now, facts=known.facts if known else {},
        )  # fmt: skip
        return self._keep(name, fresh, lease, confirm_only=False, first=known is None)

    def _parse(self, name: ProjectName, response: PageResponse) -> UpstreamPage:
        content_type = response.content_type
        if self.config.format is UpstreamFormat.FIND_LINKS and content_type.startswith(
            "text/plain"
        ):
            content_type = "text/html"
        return parse_project_page(name, response.body, content_type, response.url, response.serial)

    def _keep(
        self,
        name: ProjectName,
        known: KnownPage,
        lease: AsyncExitStack,
        *,
        confirm_only: bool,
        first: bool = False,
    ) -> KnownPage:
        """Answer with the page at once; save it in the background, then give the lease
        back, so a process waiting for it finds it kept."""
        self.memory.put(self.name, name, known)
        if first:
            self._unsaved[name] = known.page.serial or 0
        task = asyncio.get_running_loop().create_task(
            self._save(name, known, lease, confirm_only, first)
        )
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)
        return known

    async def _save(
        self,
        name: ProjectName,
        known: KnownPage,
        lease: AsyncExitStack,
        confirm_only: bool,
        first: bool,
    ) -> None:
        try:
            await self.memory.slots.run(self._write, name, known, confirm_only, first)
        except Exception:
            logger.exception("could not keep the page of %s in %s", name, self.name)
        finally:
            self._unsaved.pop(name, None)
            await lease.aclose()

    def _write(self, name: ProjectName, known: KnownPage, confirm_only: bool, first: bool) -> None:
        if confirm_only:
            with self.database.begin(durable=False) as connection:
                upstream_cache.mark_checked(connection, self.record, name, known.checked_at)
            return
        stored = StoredPage(
            name, encode_page(known.page), len(known.page.files), known.etag,
            known.last_modified, known.page.serial, known.fetched_at, known.checked_at,
        )  # fmt: skip
        with self.database.begin(durable=False) as connection:
            upstream_cache.save_page(connection, self.record, stored)
            if first:
                publish(connection, ChangeScope.LISTING, self.name)

    def _forget(self, name: ProjectName) -> None:
        with self.database.begin(durable=False) as connection:
            if upstream_cache.forget_page(connection, self.record, name):
                publish(connection, ChangeScope.PROJECT, self.name, name)

    async def flush(self) -> None:
        """Wait for pages still being saved (on shutdown)."""
        if self._saving:
            await asyncio.gather(*self._saving, return_exceptions=True)


def _validators(known: KnownPage | None) -> Validators | None:
    return Validators(known.etag, known.last_modified) if known is not None else None
