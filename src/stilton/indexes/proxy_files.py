"""A proxy's files: downloaded once from the upstream (single flight), verified against the
upstream's sha256 before they are kept, evicted least-recently-used beyond the size cap; and
their PEP 658 metadata, passed through or read out of the wheel by range requests."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from anyio import to_thread

from stilton.core.errors import DigestMismatch, NotFound
from stilton.core.filenames import DistributionFilename, parse_distribution_filename
from stilton.core.metadata import read_wheel_metadata
from stilton.core.upstream import UpstreamConfig
from stilton.indexes.base import StoredBlob
from stilton.indexes.single_flight import SingleFlight
from stilton.indexes.spool import SpooledFile, Spooler
from stilton.storage import catalog, upstream_cache
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.database import Database
from stilton.storage.upstream_cache import UpstreamFileRecord
from stilton.upstream.client import UpstreamClient
from stilton.upstream.downloads import Transfer, Transfers
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
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.record = record
        self.on_change = on_change
        self.config = config
        self.database = database
        self.blobs = blobs
        self.client = client
        self.transfers = transfers
        self.max_file_size = max_file_size
        self._metadata: SingleFlight[StoredBlob] = SingleFlight()
        self._accesses: dict[str, datetime] = {}
        self._flushed_at = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()

    async def find(self, filename: str) -> UpstreamFileRecord | None:
        return await to_thread.run_sync(self._find, filename)

    def _find(self, filename: str) -> UpstreamFileRecord | None:
        with self.database.connect() as connection:
            return upstream_cache.find_file(connection, self.record, filename)

    async def _get(self, sha256: str, filename: str) -> UpstreamFileRecord:
        record = await self.find(filename)
        if record is None or record.sha256 != sha256:
            raise NotFound(
                f"No file {filename!r} with sha256 {sha256} in index {self.record.name!r}."
            )
        return record

    # -- files ---------------------------------------------------------------------------------

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | Transfer:
        record = await self._get(sha256, filename)
        size = await to_thread.run_sync(self._cached_size, sha256)
        if size is not None:
            self._touch(sha256)
            return StoredBlob(sha256, size)
        if self.config.offline:
            raise NotFound(
                f"{filename!r} is not in the cache of offline index {self.record.name!r}."
            )
        transfer = self.download(record)
        if transfer.size is not None and transfer.size > STREAM_THRESHOLD:
            return transfer
        return await transfer.stored()

    def _cached_size(self, sha256: str) -> int | None:
        with self.database.connect() as connection:
            size = upstream_cache.find_cached(connection, self.record, sha256)
        return size if size is not None and self.blobs.exists(sha256) else None

    def download(self, record: UpstreamFileRecord) -> Transfer:
        """The running transfer of this file, or a new one."""
        key = (self.record.id, record.filename)
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
        spooler = Spooler(self.blobs, record.filename, self.max_file_size)

        async def keep(spooled: SpooledFile) -> StoredBlob:
            return await self._keep(record, spooled)

        return self.transfers.start(key, self.client, record.url, spooler, record.size, keep)

    async def _keep(self, record: UpstreamFileRecord, spooled: SpooledFile) -> StoredBlob:
        actual = spooled.digests.sha256
        if record.sha256 is not None and actual != record.sha256:
            spooled.discard()
            logger.error("digest mismatch for %s from %s", record.filename, self.record.name)
            raise DigestMismatch(record.filename, "sha256", record.sha256, actual)
        await to_thread.run_sync(self.blobs.put_spooled, spooled.spool, actual)
        await to_thread.run_sync(self._record_cached, record, spooled)
        await self.evict(protect=actual)
        return StoredBlob(actual, spooled.size)

    def _record_cached(self, record: UpstreamFileRecord, spooled: SpooledFile) -> None:
        with self.database.begin() as connection:
            upstream_cache.add_cached(
                connection, self.record, spooled.digests.sha256, spooled.size, _now()
            )
            if record.sha256 is None or record.size is None:
                upstream_cache.set_file_digest(
                    connection, self.record, record.filename, spooled.digests.sha256, spooled.size
                )
                catalog.bump_generation(connection, self.record)  # the page gains a link
        self.on_change()

    # -- metadata ------------------------------------------------------------------------------

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        record = await self._get(sha256, filename)
        dist = parse_distribution_filename(filename)
        if not dist.is_wheel:
            raise NotFound(f"{filename!r} has no core metadata file (PEP 658 covers wheels only).")
        if record.metadata_sha256 is not None and record.metadata_size is not None:
            return StoredBlob(record.metadata_sha256, record.metadata_size)
        return await self._metadata.run(filename, lambda: self._obtain_metadata(record, dist))

    async def _obtain_metadata(
        self, record: UpstreamFileRecord, dist: DistributionFilename
    ) -> StoredBlob:
        data = await self._metadata_from_upstream(record)
        if data is None:
            data = await self._metadata_from_cache(record, dist)
        if data is None and not self.config.offline:
            data = await self._metadata_by_ranges(record, dist)
        if data is None and not self.config.offline:
            await self.download(record).stored()
            data = await self._metadata_from_cache(record, dist)
        if data is None:
            raise NotFound(f"The metadata of {record.filename!r} is not in the offline cache.")
        digest = hashlib.sha256(data).hexdigest()
        await to_thread.run_sync(self._record_metadata, record, data, digest)
        return StoredBlob(digest, len(data))

    async def _metadata_from_upstream(self, record: UpstreamFileRecord) -> bytes | None:
        if not record.upstream_metadata or self.config.offline:
            return None
        data = await self.client.fetch_bytes(_without_fragment(record.url) + ".metadata")
        expected = record.upstream_metadata_sha256
        if data is not None and expected and hashlib.sha256(data).hexdigest() != expected:
            raise DigestMismatch(
                record.filename + ".metadata", "sha256", expected, hashlib.sha256(data).hexdigest()
            )
        return data

    async def _metadata_from_cache(
        self, record: UpstreamFileRecord, dist: DistributionFilename
    ) -> bytes | None:
        if (
            record.sha256 is None
            or await to_thread.run_sync(self._cached_size, record.sha256) is None
        ):
            return None
        path = self.blobs.local_path(record.sha256)
        if path is None:
            return None
        with path.open("rb") as wheel:
            return await to_thread.run_sync(read_wheel_metadata, wheel, dist)

    async def _metadata_by_ranges(
        self, record: UpstreamFileRecord, dist: DistributionFilename
    ) -> bytes | None:
        url = _without_fragment(record.url)
        size = record.size
        if size is None:
            size, _ = await self.client.fetch_size(url)
        if size is None:
            return None

        async def fetch(start: int, end: int) -> bytes | None:
            return await self.client.fetch_range(url, start, end)

        return await fetch_wheel_metadata(dist, size, fetch)

    def _record_metadata(self, record: UpstreamFileRecord, data: bytes, digest: str) -> None:
        self.blobs.put_bytes(data, digest)
        with self.database.begin() as connection:
            upstream_cache.set_file_metadata(
                connection, self.record, record.filename, digest, len(data)
            )
            if record.upstream_metadata_sha256 is None:
                catalog.bump_generation(connection, self.record)  # the link gains the hash
        self.on_change()

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
            with self.database.begin() as connection:
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
        with self.database.begin() as connection:
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
            if evicted:
                catalog.bump_generation(connection, self.record)
        for sha256 in unused:
            self.blobs.delete(sha256)
        if evicted:
            self.on_change()
            logger.info("evicted %d file(s) from %s", len(evicted), self.record.name)
        return evicted
