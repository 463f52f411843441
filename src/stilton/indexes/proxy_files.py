"""A proxy's files: downloaded once (one transfer in this process, one holder of the file's
lease across processes), verified against the upstream's sha256 before they are kept, evicted
least-recently-used beyond the size cap; and their PEP 658 metadata, passed through or read out
of the wheel by range requests. What fetching teaches is kept per file: a digest the upstream
did not give is also published, since the page then offers a link it could not before; a size
or a metadata hash only adds to a link, and shows the next time the page is read."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime

from anyio import to_thread
from sqlalchemy import Connection

from stilton.core.errors import DigestMismatch, InvalidInput, NotFound, UpstreamUnavailable
from stilton.core.filenames import DistributionFilename, parse_distribution_filename
from stilton.core.metadata import read_wheel_metadata
from stilton.core.names import ProjectName
from stilton.core.telemetry import NO_TELEMETRY, Telemetry
from stilton.core.upstream import UpstreamConfig
from stilton.indexes.base import StoredBlob
from stilton.indexes.proxy_pages import ProxyPages
from stilton.indexes.single_flight import SingleFlight
from stilton.indexes.spool import Spooler
from stilton.storage import upstream_cache
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.changes import ChangeScope, publish
from stilton.storage.database import Database
from stilton.storage.leases import Leases
from stilton.storage.upstream_cache import FileFacts
from stilton.upstream.client import UpstreamClient
from stilton.upstream.downloads import Transfer, Transfers
from stilton.upstream.model import UpstreamFile
from stilton.upstream.remote_wheel import fetch_wheel_metadata

logger = logging.getLogger("stilton.proxy")

# Files up to this size are verified before the first byte goes out, so a digest mismatch is a
# clean 502; larger ones stream while they arrive, their last bytes held until verified.
STREAM_THRESHOLD = 8 * 2**20
ACCESS_FLUSH_SECONDS = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


class ProxyFiles:
    def __init__(
        self,
        record: IndexRecord,
        config: UpstreamConfig,
        database: Database,
        blobs: BlobStore,
        client: UpstreamClient,
        transfers: Transfers,
        max_file_size: int,
        pages: ProxyPages,
        leases: Leases,
        *,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.record = record
        self.config = config
        self.database = database
        self.blobs = blobs
        self.client = client
        self.transfers = transfers
        self.max_file_size = max_file_size
        self.pages = pages
        self.leases = leases
        self._starting: SingleFlight[StoredBlob | Transfer] = SingleFlight(
            lambda: telemetry.joined("file")
        )
        self._metadata: SingleFlight[StoredBlob] = SingleFlight(
            lambda: telemetry.joined("metadata")
        )
        self._accesses: dict[str, datetime] = {}
        self._flushed_at = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()

    async def entry(self, sha256: str, filename: str) -> UpstreamFile:
        """The upstream file a file URL names (the page it is on is read, not refreshed)."""
        missing = NotFound(
            f"No file {filename!r} with sha256 {sha256} in index {self.record.name!r}."
        )
        try:
            project = parse_distribution_filename(filename).project
        except InvalidInput:
            raise missing from None
        known = await self.pages.known_file(project, filename)
        if known is None and not self.config.offline:
            known = await self.pages.find(project)
        file = known.file(filename) if known is not None else None
        if file is None or file.sha256 != sha256:
            raise missing
        return file

    # -- files ---------------------------------------------------------------------------------

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | Transfer:
        file = await self.entry(sha256, filename)
        size = await to_thread.run_sync(self._cached_size, sha256)
        if size is not None:
            self._touch(sha256)
            return StoredBlob(sha256, size)
        if self.config.offline:
            raise NotFound(
                f"{filename!r} is not in the cache of offline index {self.record.name!r}."
            )
        opened = await self.obtain(file)
        if isinstance(opened, StoredBlob) or (
            opened.size is not None and opened.size > STREAM_THRESHOLD
        ):
            return opened
        # A small file, or one whose size the page did not say: wait for all of it, or for as
        # much as makes it a large one, which then streams as it arrives.
        return await opened.settled(STREAM_THRESHOLD + 1) or opened

    def _cached_size(self, sha256: str) -> int | None:
        with self.database.connect() as connection:
            size = upstream_cache.find_cached(connection, self.record, sha256)
        return size if size is not None and self.blobs.exists(sha256) else None

    async def obtain(self, file: UpstreamFile) -> StoredBlob | Transfer:
        """The kept file, or the running transfer of it, or a new one."""
        # By name and digest: an upstream that replaced a file under its name (a private index
        # may) offers other bytes, which an earlier transfer of the name must not answer for.
        return await self._starting.run((file.filename, file.sha256), lambda: self._start(file))

    async def stored(self, file: UpstreamFile) -> StoredBlob:
        opened = await self.obtain(file)
        return opened if isinstance(opened, StoredBlob) else await opened.stored()

    async def _start(self, file: UpstreamFile) -> StoredBlob | Transfer:
        key = (self.record.id, file.filename, file.sha256)
        running = self.transfers.find(key)
        if (
            running is not None
            and running.kept is not None
            and not self.blobs.exists(running.kept.sha256)
        ):
            self.transfers.forget(key, running)  # finished, but evicted since
            running = None
        if running is not None:
            return running
        # An upstream marked unhealthy is not waited for, nor the lease of a process that waits.
        self.client.watch.admit(file.url)
        lease = AsyncExitStack()
        await lease.enter_async_context(self.leases.hold(f"file {self.record.id} {file.filename}"))
        try:
            kept = await to_thread.run_sync(self._kept_elsewhere, file)
            if kept is not None:
                await lease.aclose()
                return kept
            spooler = Spooler(self.blobs, file.filename, self.max_file_size, sha256_only=True)

            async def keep(spooler: Spooler) -> StoredBlob:
                return await self._keep(file, spooler)

            return self.transfers.start(
                key, self.client, file.url, spooler, file.size, keep, release=lease.aclose
            )
        except BaseException:
            await lease.aclose()
            raise

    def _kept_elsewhere(self, file: UpstreamFile) -> StoredBlob | None:
        """A file another process downloaded while this one waited for the lease."""
        sha256: str | None = file.sha256
        if not sha256:
            with self.database.connect() as connection:
                facts = upstream_cache.find_facts(connection, self.record, self._project(file))
            sha256 = facts[file.filename].sha256 if file.filename in facts else None
        size = self._cached_size(sha256) if sha256 is not None else None
        return StoredBlob(sha256, size) if sha256 is not None and size is not None else None

    async def _keep(self, file: UpstreamFile, spooler: Spooler) -> StoredBlob:
        stored = await to_thread.run_sync(self._store, file, spooler)
        await self.evict(protect=stored.sha256)
        return stored

    def _store(self, file: UpstreamFile, spooler: Spooler) -> StoredBlob:
        """Finish the download's spool file, verify it, move it into place and record it (one
        trip to a thread for the three: a cold install downloads ~100 files at once)."""
        spooled = spooler.finish()
        actual = spooled.digests.sha256
        if file.sha256 and actual != file.sha256:
            spooled.discard()
            logger.error("digest mismatch for %s from %s", file.filename, self.record.name)
            raise DigestMismatch(file.filename, "sha256", file.sha256, actual)
        self.blobs.put_spooled(spooled.spool, actual)
        self._record_cached(file, actual, spooled.size)
        return StoredBlob(actual, spooled.size)

    def _record_cached(self, file: UpstreamFile, sha256: str, size: int) -> None:
        with self.database.begin(durable=False) as connection:
            upstream_cache.add_cached(connection, self.record, sha256, size, _now())
            if not file.sha256 or file.size is None:  # an HTML page gives no sizes
                facts = FileFacts(file.filename, sha256, size)
                self._learnt(connection, file, facts, new_link=not file.sha256)

    def _project(self, file: UpstreamFile) -> ProjectName:
        return parse_distribution_filename(file.filename).project

    def _learnt(
        self, connection: Connection, file: UpstreamFile, facts: FileFacts, *, new_link: bool
    ) -> None:
        """Keep what fetching taught about a file. Only a ``new_link`` (the sha256 of a link
        the upstream gave none for, which was not offered without it) is told to every cache.
        A size or a metadata hash only adds to a link: the page is right without it and shows
        it the next time it is read; told, it would have the next install render again every
        page the last one read (with an HTML upstream, which gives no sizes: all of them)."""
        project = self._project(file)
        upstream_cache.save_facts(connection, self.record, project, facts)
        if new_link:
            publish(connection, ChangeScope.PROJECT, self.record.name, project)

    # -- metadata ------------------------------------------------------------------------------

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        file = await self.entry(sha256, filename)
        dist = parse_distribution_filename(filename)
        if not dist.is_wheel:
            raise NotFound(f"{filename!r} has no core metadata file (PEP 658 covers wheels only).")
        kept = await to_thread.run_sync(self._kept_metadata, file)
        if kept is not None:
            return kept
        return await self._metadata.run(
            (filename, file.sha256), lambda: self._obtain_metadata(file, dist)
        )

    def _kept_metadata(self, file: UpstreamFile) -> StoredBlob | None:
        with self.database.connect() as connection:
            facts = upstream_cache.find_facts(connection, self.record, self._project(file))
        known = facts.get(file.filename)
        if (
            known is None
            or known.sha256 != file.sha256
            or known.metadata_sha256 is None
            or known.metadata_size is None
            or not self.blobs.exists(known.metadata_sha256)
        ):
            return None
        return StoredBlob(known.metadata_sha256, known.metadata_size)

    async def _obtain_metadata(self, file: UpstreamFile, dist: DistributionFilename) -> StoredBlob:
        try:
            data = await self._metadata_from_upstream(file)
        except UpstreamUnavailable:
            # Not asked while marked unhealthy: a kept wheel still has its metadata inside.
            data = await self._metadata_from_cache(file, dist)
            if data is None:
                raise
        if data is None:
            data = await self._metadata_from_cache(file, dist)
        if data is None and not self.config.offline:
            data = await self._metadata_by_ranges(file, dist)
        if data is None and not self.config.offline:
            await self.stored(file)
            data = await self._metadata_from_cache(file, dist)
        if data is None:
            raise NotFound(f"The metadata of {file.filename!r} is not in the offline cache.")
        digest = hashlib.sha256(data).hexdigest()
        await to_thread.run_sync(self._record_metadata, file, data, digest)
        return StoredBlob(digest, len(data))

    async def _metadata_from_upstream(self, file: UpstreamFile) -> bytes | None:
        if not file.upstream_metadata or self.config.offline:
            return None
        data = await self.client.fetch_bytes(_without_fragment(file.url) + ".metadata")
        expected = file.metadata_sha256
        if data is not None and expected and hashlib.sha256(data).hexdigest() != expected:
            raise DigestMismatch(
                file.filename + ".metadata", "sha256", expected, hashlib.sha256(data).hexdigest()
            )
        return data

    async def _metadata_from_cache(
        self, file: UpstreamFile, dist: DistributionFilename
    ) -> bytes | None:
        if not file.sha256:
            return None
        sha256 = file.sha256
        size = await to_thread.run_sync(self._cached_size, sha256)
        if size is None:
            return None

        def read() -> bytes | None:
            # A local file, or ranged reads of an object in a bucket: only the zip's
            # directory and the METADATA member are read.
            with self.blobs.open_reader(sha256, size) as wheel:
                return read_wheel_metadata(wheel, dist)

        return await to_thread.run_sync(read)

    async def _metadata_by_ranges(
        self, file: UpstreamFile, dist: DistributionFilename
    ) -> bytes | None:
        url = _without_fragment(file.url)
        size = file.size
        if size is None:
            size, _ = await self.client.fetch_size(url)
        if size is None:
            return None

        async def fetch(start: int, end: int) -> bytes | None:
            return await self.client.fetch_range(url, start, end)

        return await fetch_wheel_metadata(dist, size, fetch)

    def _record_metadata(self, file: UpstreamFile, data: bytes, digest: str) -> None:
        self.blobs.put_bytes(data, digest)
        facts = FileFacts(file.filename, file.sha256, None, digest, len(data))
        with self.database.begin(durable=False) as connection:
            self._learnt(connection, file, facts, new_link=False)

    # -- the bounded cache -----------------------------------------------------------------------

    def _touch(self, sha256: str) -> None:
        """Remember a use for LRU; written to the database at most every few seconds."""
        self._accesses[sha256] = _now()
        if time.monotonic() - self._flushed_at > ACCESS_FLUSH_SECONDS:
            self._flushed_at = time.monotonic()
            task = asyncio.get_running_loop().create_task(self.flush_accesses())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def flush_accesses(self) -> None:
        pending, self._accesses = self._accesses, {}
        await to_thread.run_sync(self._flush, pending)

    def _flush(self, pending: dict[str, datetime]) -> None:
        if pending:
            with self.database.begin(durable=False) as connection:
                upstream_cache.touch_cached(connection, self.record, pending.items())

    def stats(self) -> tuple[int, int]:
        """How many files this proxy keeps, and their total size."""
        with self.database.connect() as connection:
            return upstream_cache.cache_stats(connection, self.record)

    async def evict(self, protect: str | None = None, cap: int | None = None) -> list[str]:
        """Drop least-recently-used files until the cache is within its cap."""
        limit = self.config.cache_max_bytes if cap is None else cap
        if limit is None:
            return []
        await self.flush_accesses()
        return await to_thread.run_sync(self._evict, limit, protect)

    def _evict(self, limit: int, protect: str | None) -> list[str]:
        evicted: list[str] = []
        with self.database.begin(durable=False) as connection:
            _count, total = upstream_cache.cache_stats(connection, self.record)
            for sha256, size in upstream_cache.least_recently_used(connection, self.record):
                if total <= limit:
                    break
                if sha256 == protect:
                    continue
                upstream_cache.forget_cached(connection, self.record, sha256)
                total -= size
                evicted.append(sha256)
            unused = [s for s in evicted if not upstream_cache.blob_in_use(connection, s)]
        for sha256 in unused:
            self.blobs.delete(sha256)
        if evicted:
            logger.info("evicted %d file(s) from %s", len(evicted), self.record.name)
        return evicted
