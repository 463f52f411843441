"""The one protocol every index kind serves through: list projects, get a project page, open a
file, open its metadata, and the capabilities only some kinds have (``uploads()``). The web
layer speaks only this, and asks an index what it can do rather than what type it is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from stilton.core.model import IndexKind, ProjectDetail, ProjectSummary, find_file
from stilton.core.names import IndexName, ProjectName
from stilton.indexes.spool import SpooledFile
from stilton.storage.catalog import IndexRecord


@dataclass(frozen=True, slots=True)
class Staleness:
    """A page served from the cache because the upstream could not be asked (stale-if-error)."""

    fetched_at: datetime  # when the copy served was last confirmed by the upstream
    reason: str


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A project page, how long it may be reused, whether it is stale, and which other indexes
    it comes from (a group's serving members: whoever reads it must be allowed to read those
    too, DESIGN.md "Permissions through groups")."""

    detail: ProjectDetail
    fresh_for: float | None = (
        None  # seconds before the index must be asked again; None: until changed
    )
    stale: Staleness | None = None
    sources: frozenset[IndexName] = frozenset()


@dataclass(frozen=True, slots=True)
class FileListing:
    """What an index's page of a project says of one filename: whether the index has the
    project at all, and the sha256 of the file it lists under that name (None: none)."""

    has_project: bool
    sha256: str | None = None


NO_PROJECT = FileListing(False)


def listing_of(view: ProjectView | None, filename: str) -> FileListing:
    """``filename`` as the page ``view`` lists it (None: the index has no such project)."""
    if view is None:
        return NO_PROJECT
    file = find_file(view.detail.files, filename)
    return FileListing(True, file.sha256 if file is not None else None)


@dataclass(frozen=True, slots=True)
class ProjectList:
    projects: list[ProjectSummary]
    last_serial: int


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """Bytes already in the blob store, sent as they are."""

    sha256: str  # the blob's key (the file's digest, or its metadata's)
    size: int


class FileStream(Protocol):
    """Bytes still arriving from an upstream (a proxy's first download of a file)."""

    size: int | None

    def chunks(self) -> AsyncIterator[bytes]:
        """The bytes, from the first; raises UpstreamError if the transfer fails or does not
        verify (before its last bytes are given out)."""

    async def stored(self) -> StoredBlob:
        """Wait until the file is verified and kept; raises UpstreamError if it is not."""


class UploadOutcome(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"  # the identical file was already there


class Uploader(Protocol):
    """What takes uploads to an index (the legacy upload API, PROTOCOLS.md §3)."""

    def upload(
        self,
        spooled: SpooledFile,
        fields: Mapping[str, Sequence[str]],
        actor: str,
        address: str = "",
    ) -> UploadOutcome:
        """Check the form and the file, then store it; the spool file is consumed either way."""


class Index(Protocol):
    @property
    def record(self) -> IndexRecord:
        """The index's row as it was when this object was built (name, kind, config)."""

    @property
    def name(self) -> IndexName: ...

    @property
    def kind(self) -> IndexKind: ...

    async def list_projects(self, within: frozenset[IndexName] | None = None) -> ProjectList:
        """The projects; a group lists only those of members in ``within`` (None: all)."""

    async def find_project(self, name: ProjectName) -> ProjectView | None: ...

    async def find_listing(self, name: ProjectName, filename: str) -> FileListing:
        """``listing_of(await self.find_project(name), filename)``: what a file request asks
        of a group's members, answered without the whole page where an index can (a proxy
        whose page is no longer in memory reads the one entry from the kept page)."""

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | FileStream:
        """The file a file URL names; raises NotFound."""

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        """The PEP 658 metadata of the file a file URL names; raises NotFound."""

    async def project_json(self, name: ProjectName, version: str | None, base_url: str) -> bytes:
        """The Warehouse JSON API document of a project or release; raises NotFound."""

    def uploads(self) -> Uploader | None:
        """What takes uploads to this index (a hosted index, through its policy), or None."""

    def leaves(self) -> Sequence[Index]:
        """The indexes holding this one's projects, without policies: a hosted index or a proxy
        is its own leaf; a group's are its members' leaves."""

    async def aclose(self) -> None:
        """Release what the index holds (a proxy's upstream connections), members included."""
