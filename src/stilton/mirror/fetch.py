"""What a mirror reads from its upstream, through ``UpstreamClient`` (its address, size and
rate rules included): project pages asked with the validators of the last run, PEP 658
metadata files, and files spooled and verified against the upstream's sha256 as they arrive.

At most ``concurrency`` requests are in flight at once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import anyio

from stilton.core.errors import DigestMismatch
from stilton.core.metadata import MAX_METADATA_SIZE
from stilton.core.names import ProjectName
from stilton.indexes.spool import SpooledFile, Spooler
from stilton.storage.blobs import BlobStore
from stilton.storage.mirrors import FollowedPage
from stilton.upstream.client import UpstreamClient, Validators
from stilton.upstream.compact import decode_page, encode_page
from stilton.upstream.model import UpstreamFile, UpstreamPage
from stilton.upstream.pages import parse_project_page

logger = logging.getLogger("stilton.mirror")

MAX_FILE_SIZE = 64 * 2**30  # bytes; a safety net against an endless upstream response


def without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A project page: ``page`` None when the upstream has no such project (404)."""

    page: UpstreamPage | None
    followed: FollowedPage | None  # what to keep for the next run's conditional request
    changed: bool  # False when the upstream answered 304 (or sent a stale copy)


class MirrorUpstream:
    def __init__(self, client: UpstreamClient, concurrency: int) -> None:
        self.client = client
        self._slots = anyio.CapacityLimiter(concurrency)

    async def fetch_page(self, project: ProjectName, known: FollowedPage | None) -> FetchedPage:
        validators = Validators(known.etag, known.last_modified) if known else None
        url = self.client.project_url(project)
        async with self._slots:
            response = await self.client.fetch_page(url, validators)
        if response.status == 404:
            return FetchedPage(None, None, changed=True)
        if response.status == 304 and known is not None:
            return FetchedPage(decode_page(known.document), known, changed=False)
        page = parse_project_page(
            project, response.body, response.content_type, response.url, response.serial
        )
        if known is not None and known.serial and page.serial and page.serial < known.serial:
            # A lower serial than one already seen is a stale CDN copy: keep what we had.
            logger.warning("ignoring a stale upstream page of %s (serial %s)", project, page.serial)
            return FetchedPage(decode_page(known.document), known, changed=False)
        followed = FollowedPage(
            response.etag, response.last_modified, page.serial, encode_page(page)
        )
        return FetchedPage(page, followed, changed=True)

    async def fetch_metadata(self, file: UpstreamFile) -> bytes | None:
        """PEP 658 metadata where the upstream advertises it, checked against its sha256."""
        if not file.upstream_metadata:
            return None
        async with self._slots:
            data = await self.client.fetch_bytes(
                without_fragment(file.url) + ".metadata", max_size=MAX_METADATA_SIZE
            )
        if data is None:
            return None
        actual = hashlib.sha256(data).hexdigest()
        if file.metadata_sha256 and actual != file.metadata_sha256:
            raise DigestMismatch(
                file.filename + ".metadata", "sha256", file.metadata_sha256, actual
            )
        return data

    async def download(self, file: UpstreamFile, blobs: BlobStore, max_size: int) -> SpooledFile:
        """The file in a spool file, fsynced, and matching the upstream's sha256 (else nothing
        is kept and ``DigestMismatch`` says so)."""
        url = without_fragment(file.url)
        async with self._slots:
            spooler = Spooler(blobs, file.filename, max_size)
            try:
                async with self.client.stream(url) as response:
                    assert response is not None  # missing_ok is not asked for
                    async for chunk in self.client.chunks(response, url):
                        spooler.write(chunk)
            except BaseException:
                spooler.abort()
                raise
        spooled = await anyio.to_thread.run_sync(spooler.finish)
        if file.sha256 and spooled.digests.sha256 != file.sha256:
            spooled.discard()
            raise DigestMismatch(file.filename, "sha256", file.sha256, spooled.digests.sha256)
        return spooled
