"""The proxy index: a read-through cache of one upstream repository.

Project pages are kept in the database with the upstream's validators, reused for the TTL,
then revalidated; when the upstream fails, the last good page is served and marked stale.
Files are downloaded once (``ProxyFiles``), verified, and kept until evicted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from anyio import to_thread

from stilton.core.errors import InvalidInput, NotFound, StiltonError, UpstreamError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.index_config import IndexConfig
from stilton.core.metadata import parse_core_metadata, release_info
from stilton.core.model import (
    Digests,
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
from stilton.core.upstream import UpstreamFormat
from stilton.core.versions import version_sort_key
from stilton.indexes.base import Index, ProjectList, ProjectView, Staleness, StoredBlob
from stilton.indexes.proxy_files import ProxyFiles
from stilton.indexes.single_flight import SingleFlight
from stilton.storage import catalog, upstream_cache
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.database import Database
from stilton.storage.upstream_cache import UpstreamFileRecord, UpstreamProjectRecord
from stilton.upstream.client import PageResponse, UpstreamClient, Validators
from stilton.upstream.downloads import Transfer, Transfers
from stilton.upstream.pages import UpstreamPage, parse_project_page

logger = logging.getLogger("stilton.proxy")

StoredPage = tuple[UpstreamProjectRecord, list[UpstreamFileRecord]]
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
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.record = record
        self.on_change = on_change  # told after this index changed what it serves
        self.database = database
        upstream = IndexConfig.from_mapping(record.config).upstream
        if upstream is None:
            raise InvalidInput(f"Proxy index {record.name!r} has no upstream configured.")
        self.config = upstream
        self.client = UpstreamClient(self.config)
        self.files = ProxyFiles(
            record, self.config, database, blobs, self.client, transfers, max_file_size, on_change
        )
        self._refreshes: SingleFlight[StoredPage | None] = SingleFlight()

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
        await self.files.flush_accesses()
        await self.client.aclose()

    # -- pages ---------------------------------------------------------------------------------

    async def list_projects(self) -> ProjectList:
        """The projects this proxy has seen (the upstream's full list is never copied)."""
        rows = await to_thread.run_sync(self._list)
        projects = [ProjectSummary(name, name, serial) for name, serial in rows]
        return ProjectList(projects, max((s for _, s in rows), default=0))

    def _list(self) -> list[tuple[ProjectName, int]]:
        with self.database.connect() as connection:
            return upstream_cache.list_projects(connection, self.record)

    async def find_project(self, name: ProjectName) -> ProjectView | None:
        stored = await to_thread.run_sync(self._load, name)
        if stored is not None:
            age = (_now() - stored[0].checked_at).total_seconds()
            if self.config.offline or age < self.config.ttl:
                return await self._view(stored, fresh_for=max(self.config.ttl - age, 0.0))
        if self.config.offline:
            return None
        try:
            refreshed = await self._refreshes.run(name, lambda: self._refresh(name, stored))
        except UpstreamError as exc:
            if stored is None:
                raise
            logger.warning("serving a stale page of %s from %s: %s", name, self.name, exc.message)
            return await self._view(stored, stale=Staleness(stored[0].checked_at, exc.message))
        if refreshed is None:
            return None
        return await self._view(refreshed, fresh_for=self.config.ttl)

    def _load(self, name: ProjectName) -> StoredPage | None:
        with self.database.connect() as connection:
            return upstream_cache.find_project(connection, self.record, name)

    def _page_url(self, name: ProjectName) -> str:
        if self.config.format is UpstreamFormat.FIND_LINKS:
            return self.config.url
        return self.client.project_url(name)

    async def _refresh(self, name: ProjectName, stored: StoredPage | None) -> StoredPage | None:
        validators = Validators(stored[0].etag, stored[0].last_modified) if stored else None
        response = await self.client.fetch_page(self._page_url(name), validators)
        if response.status == 304:
            return await to_thread.run_sync(self._confirm, name)
        if response.status == 404:
            await to_thread.run_sync(self._forget, name)
            return None
        page = self._parse(name, response)
        known_serial = stored[0].serial if stored else None
        if page.serial is not None and known_serial is not None and page.serial < known_serial:
            # A stale copy (a CDN that has not caught up): keep what we have.
            logger.info("ignoring %s's page at serial %s < %s", name, page.serial, known_serial)
            return await to_thread.run_sync(self._confirm, name)
        if not page.files and self.config.format is UpstreamFormat.FIND_LINKS:
            await to_thread.run_sync(self._forget, name)
            return None
        return await to_thread.run_sync(self._save, page, response)

    def _parse(self, name: ProjectName, response: PageResponse) -> UpstreamPage:
        content_type = response.content_type
        if self.config.format is UpstreamFormat.FIND_LINKS and content_type.startswith(
            "text/plain"
        ):
            content_type = "text/html"
        return parse_project_page(name, response.body, content_type, response.url, response.serial)

    def _confirm(self, name: ProjectName) -> StoredPage | None:
        with self.database.begin() as connection:
            upstream_cache.mark_checked(connection, self.record, name, _now())
            return upstream_cache.find_project(connection, self.record, name)

    def _forget(self, name: ProjectName) -> None:
        with self.database.begin() as connection:
            forgotten = upstream_cache.forget_project(connection, self.record, name)
            if forgotten:
                catalog.bump_generation(connection, self.record)
        if forgotten:
            self.on_change()

    def _save(self, page: UpstreamPage, response: PageResponse) -> StoredPage | None:
        now = _now()
        project: dict[str, Any] = {
            "name": page.project,
            "etag": response.etag,
            "last_modified": response.last_modified,
            "serial": page.serial,
            "status": page.status.value,
            "status_reason": page.status_reason,
            "versions": list(page.versions),
            "fetched_at": now,
            "checked_at": now,
        }
        files = [
            {
                "filename": f.filename,
                "url": f.url,
                "version": f.version,
                "sha256": f.sha256,
                "size": f.size,
                "upload_time": f.upload_time,
                "requires_python": f.requires_python,
                "yanked": f.yanked,
                "yanked_reason": f.yanked_reason,
                "upstream_metadata": f.has_metadata,
                "upstream_metadata_sha256": f.metadata_sha256,
                "provenance_url": f.provenance_url,
            }
            for f in page.files
        ]
        with self.database.begin() as connection:
            changed = upstream_cache.save_page(connection, self.record, project, files)
            if changed:
                catalog.bump_generation(connection, self.record)
            stored = upstream_cache.find_project(connection, self.record, page.project)
        if changed:
            self.on_change()
        return stored

    async def _view(
        self, stored: StoredPage, *, fresh_for: float | None = None, stale: Staleness | None = None
    ) -> ProjectView:
        record, files = stored
        if any(f.sha256 is None for f in files) and not self.config.offline:
            files = await self._compute_missing_digests(record.name, files)
        return ProjectView(self._detail(record, files), fresh_for=fresh_for, stale=stale)

    async def _compute_missing_digests(
        self, name: ProjectName, files: list[UpstreamFileRecord]
    ) -> list[UpstreamFileRecord]:
        """Every link carries a sha256: where the upstream gave none, download and compute it."""
        limit = asyncio.Semaphore(HASHING_CONCURRENCY)

        async def compute(file: UpstreamFileRecord) -> None:
            async with limit:
                try:
                    await self.files.download(file).stored()
                except UpstreamError as exc:
                    logger.warning("cannot hash %s from %s: %s", file.filename, self.name, exc)

        await asyncio.gather(*(compute(f) for f in files if f.sha256 is None))
        stored = await to_thread.run_sync(self._load, name)
        return stored[1] if stored else []

    def _detail(
        self, record: UpstreamProjectRecord, files: list[UpstreamFileRecord]
    ) -> ProjectDetail:
        served = [self._distribution_file(record.name, f) for f in files if f.sha256 is not None]
        versions = set(record.versions) | {f.version for f in served}
        return ProjectDetail(
            index=self.name,
            name=record.name,
            display_name=record.name,
            files=tuple(served),
            versions=tuple(sorted(versions, key=version_sort_key)),
            status=record.status,
            status_reason=record.status_reason,
            last_serial=record.serial or 0,
        )

    def _distribution_file(
        self, project: ProjectName, file: UpstreamFileRecord
    ) -> DistributionFile:
        assert file.sha256 is not None
        dist = parse_distribution_filename(file.filename)
        return DistributionFile(
            index=self.name,
            project=project,
            filename=file.filename,
            version=file.version,
            packagetype=dist.packagetype,
            python_version=dist.python_version,
            size=file.size,
            digests=Digests(file.sha256),
            upload_time=file.upload_time,
            requires_python=file.requires_python,
            yanked=file.yanked,
            yanked_reason=file.yanked_reason,
            # Every wheel has metadata: passed through, or extracted on first request.
            has_metadata=dist.is_wheel,
            metadata_sha256=file.metadata_sha256 or file.upstream_metadata_sha256,
            provenance_url=file.provenance_url,
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
        except (UpstreamError, ValueError) as exc:
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
