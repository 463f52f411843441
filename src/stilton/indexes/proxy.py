"""The proxy index: a read-through cache of one upstream repository.

Pages come from ``ProxyPages`` (fetched once, kept compactly, reused for the TTL, revalidated,
served stale when the upstream fails); files from ``ProxyFiles`` (downloaded once, verified,
kept until evicted). This module turns them into the pages, files and JSON documents every
index serves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from anyio import to_thread

from stilton.core.errors import (
    InvalidInput,
    NotFound,
    StiltonError,
    UpstreamError,
    UpstreamUnavailable,
)
from stilton.core.index_config import IndexConfig
from stilton.core.metadata import parse_core_metadata, release_info
from stilton.core.model import (
    DistributionFile,
    IndexKind,
    ProjectDetail,
    ProjectStatus,
    ProjectSummary,
    Release,
)
from stilton.core.names import IndexName, ProjectName
from stilton.core.render_warehouse import (
    render_warehouse_json,
    rewrite_warehouse_json,
    select_version,
)
from stilton.core.telemetry import NO_TELEMETRY, Telemetry
from stilton.core.upstream import UpstreamFormat
from stilton.core.versions import version_sort_key
from stilton.indexes.base import (
    FileListing,
    Index,
    ProjectList,
    ProjectView,
    Staleness,
    StoredBlob,
    listing_of,
)
from stilton.indexes.proxy_files import ProxyFiles
from stilton.indexes.proxy_pages import KnownPage, PageMemory, ProxyPages
from stilton.indexes.upstream_health import HealthBook
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.database import Database
from stilton.storage.leases import Leases
from stilton.upstream.client import UpstreamClient
from stilton.upstream.downloads import Transfer, Transfers
from stilton.upstream.model import UpstreamFile

logger = logging.getLogger("stilton.proxy")

HASHING_CONCURRENCY = 4


def _now() -> datetime:
    return datetime.now(UTC)


class ProxyIndex:
    def __init__(
        self,
        record: IndexRecord,
        database: Database,
        blobs: BlobStore,
        transfers: Transfers,
        max_file_size: int,
        memory: PageMemory,
        leases: Leases,
        health: HealthBook,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.record = record
        upstream = IndexConfig.from_mapping(record.config).upstream
        if upstream is None:
            raise InvalidInput(f"Proxy index {record.name!r} has no upstream configured.")
        self.config = upstream
        self.health = health.of(record.id, record.name, upstream.url)
        self.client = UpstreamClient(self.config, watch=self.health)
        self.health.attach(self._retry_upstream)
        self.pages = ProxyPages(
            record, upstream, database, self.client, memory, leases,
            telemetry=telemetry, health=self.health,
        )  # fmt: skip
        self.files = ProxyFiles(
            record, upstream, database, blobs, self.client, transfers, max_file_size,
            self.pages, leases, telemetry=telemetry,
        )  # fmt: skip

    @property
    def name(self) -> IndexName:
        return self.record.name

    @property
    def kind(self) -> IndexKind:
        return IndexKind.PROXY

    def uploads(self) -> None:
        return None  # a proxy's files come from its upstream

    def leaves(self) -> Sequence[Index]:
        return [self]

    async def aclose(self) -> None:
        self.health.detach(self._retry_upstream)
        await self.pages.flush()
        await self.files.flush_accesses()
        await self.client.aclose()

    async def _retry_upstream(self) -> None:
        """What a background retry of an unhealthy upstream asks: HEAD of its URL (any
        answer below 500 says it is back), cheap even where that is a huge project list."""
        await self.client.fetch_size(self.config.url)

    # -- pages ---------------------------------------------------------------------------------

    async def list_projects(self, within: frozenset[IndexName] | None = None) -> ProjectList:
        """The projects this proxy has seen (the upstream's full list is never copied)."""
        rows = await to_thread.run_sync(self.pages.list)
        projects = [ProjectSummary(name, name, serial) for name, serial in rows]
        return ProjectList(projects, max((s for _, s in rows), default=0))

    async def find_project(self, name: ProjectName) -> ProjectView | None:
        try:
            known = await self.pages.find(name)
        except UpstreamError as exc:
            known = await self.pages.known(name)
            if known is None:
                raise
            # An unhealthy upstream was said so once, when it was marked.
            level = logging.DEBUG if isinstance(exc, UpstreamUnavailable) else logging.WARNING
            logger.log(level, "serving a stale page of %s from %s: %s", name, self.name, exc)
            return await self._view(name, known, stale=Staleness(known.checked_at, exc.message))
        if known is None:
            return None
        fresh_for = None if self.config.offline else max(self.config.ttl - known.age(_now()), 0.0)
        return await self._view(name, known, fresh_for=fresh_for)

    async def find_listing(self, name: ProjectName, filename: str) -> FileListing:
        known = await self.pages.fresh_file(name, filename)
        if known is not None:
            file = known.file(filename)
            if file is None:
                return FileListing(True)
            if file.sha256:
                return FileListing(True, file.sha256)
        # Not kept, past its TTL, or a file whose digest is still to be computed: the page.
        return listing_of(await self.find_project(name), filename)

    async def _view(
        self,
        name: ProjectName,
        known: KnownPage,
        *,
        fresh_for: float | None = None,
        stale: Staleness | None = None,
    ) -> ProjectView:
        missing = known.unhashed()
        if missing and not self.config.offline:
            await self._compute_missing_digests(missing)
            known = await self.pages.known(name) or known
        return ProjectView(known.detail(self._detail), fresh_for=fresh_for, stale=stale)

    async def _compute_missing_digests(self, files: list[UpstreamFile]) -> None:
        """Every link carries a sha256: where the upstream gave none, download and compute it."""
        limit = asyncio.Semaphore(HASHING_CONCURRENCY)

        async def compute(file: UpstreamFile) -> None:
            async with limit:
                try:
                    await self.files.stored(file)
                except UpstreamError as exc:
                    logger.warning("cannot hash %s from %s: %s", file.filename, self.name, exc)

        await asyncio.gather(*(compute(f) for f in files))

    def _detail(self, known: KnownPage) -> ProjectDetail:
        page = known.page
        served = known.served()
        versions = set(page.versions) | served.versions()
        return ProjectDetail(
            index=self.name,
            name=page.project,
            display_name=page.project,
            files=served,
            versions=tuple(sorted(versions, key=version_sort_key)),
            status=page.status,
            status_reason=page.status_reason,
            last_serial=page.serial or 0,
        )

    # -- the Warehouse JSON API ------------------------------------------------------------------

    async def project_json(self, name: ProjectName, version: str | None, base_url: str) -> bytes:
        """The upstream's JSON API document with URLs rewritten, or, where the upstream has
        none (or cannot be asked), one built from the project page and core metadata."""
        view = await self.find_project(name)
        if view is None or view.detail.status is ProjectStatus.QUARANTINED:
            raise NotFound(f"Project {name!r} is not in index {self.name!r}.")
        document = await self._upstream_json(name, version)
        if document is not None:
            return rewrite_warehouse_json(document, self.name, name, base_url)
        detail = await self._with_release_info(view.detail, version)
        return render_warehouse_json(detail, version, base_url)

    def _json_api_url(self, name: ProjectName, version: str | None) -> str | None:
        url = self.config.url
        if self.config.format is not UpstreamFormat.SIMPLE or not url.endswith("/simple/"):
            return None
        base = url.removesuffix("simple/") + f"pypi/{name}/"
        return base + (f"{quote(version)}/json" if version else "json")

    async def _upstream_json(self, name: ProjectName, version: str | None) -> dict[str, Any] | None:
        url = self._json_api_url(name, version)
        if url is None or self.config.offline:
            return None
        try:
            data = await self.client.fetch_bytes(url)
            document = json.loads(data) if data is not None else None
        except (UpstreamError, ValueError, RecursionError) as exc:
            # RecursionError: a hostile document nested beyond what json can read.
            logger.info("no JSON API document for %s from %s: %s", name, self.name, exc)
            return None
        return document if isinstance(document, dict) and "info" in document else None

    async def _with_release_info(self, detail: ProjectDetail, version: str | None) -> ProjectDetail:
        releases = {
            v: Release(v, {}, yanked=all(f.yanked for f in files), yanked_reason=None)
            for v in detail.versions
            if (files := [f for f in detail.files if f.version == v])
        }
        detail = replace(detail, releases=releases)
        selected = select_version(detail, version)
        wheels = [f for f in detail.files if f.version == selected and f.has_metadata]
        if wheels:
            info = await self._release_info(wheels[0])
            releases[selected] = replace(releases[selected], metadata=info)
        return replace(detail, releases=releases)

    async def _release_info(self, file: DistributionFile) -> dict[str, Any]:
        try:
            blob = await self.files.open_metadata(file.sha256, file.filename)
            data = await to_thread.run_sync(self.files.blobs.read, blob.sha256)
            return release_info(parse_core_metadata(data))
        except StiltonError as exc:
            logger.info("no metadata for %s in %s: %s", file.filename, self.name, exc.message)
            return {}

    # -- files ---------------------------------------------------------------------------------

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | Transfer:
        return await self.files.open_file(sha256, filename)

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        return await self.files.open_metadata(sha256, filename)
