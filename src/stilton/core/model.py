"""The data model every index kind speaks: projects, releases and their files."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from stilton.core.filenames import PackageType
from stilton.core.names import IndexName, ProjectName


class IndexKind(StrEnum):
    HOSTED = "hosted"
    PROXY = "proxy"
    GROUP = "group"


class ProjectStatus(StrEnum):
    """PEP 792 project status markers."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, slots=True)
class Digests:
    sha256: str
    blake2b_256: str | None = None  # unknown for a proxy's file until the upstream says
    md5: str | None = None


@dataclass(frozen=True, slots=True)
class DistributionFile:
    """One file of a release, as an index serves it (the index, and the project, are those of
    the ``ProjectDetail`` that holds it: its links point at that index). A proxy may not know
    a file's size or upload time."""

    filename: str
    version: str
    packagetype: PackageType
    python_version: str
    size: int | None
    digests: Digests
    upload_time: datetime | None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    # PEP 658: whether core metadata is served at the file URL + ".metadata", and its hash
    # where known (a proxy learns it when it first fetches or extracts the metadata).
    has_metadata: bool = False
    metadata_sha256: str | None = None
    comment: str | None = None
    provenance_url: str | None = None  # PEP 740

    @property
    def sha256(self) -> str:
        return self.digests.sha256


FileT = TypeVar("FileT", bound=DistributionFile, covariant=True)
# What a page renders of a file: filename, sha256, size, upload time (a datetime in UTC, or the
# text the JSON renderer writes for one), requires-python, yanked (False, True or the reason),
# metadata (False, True or its sha256), provenance URL.
FileFields = tuple[
    str, str, int | None, datetime | str | None, str | None, bool | str, bool | str, str | None
]


class FileTable(Sequence[FileT]):
    """The files of a page held as compact rows rather than objects (an upstream page may list
    15,000): a page renders straight from the rows, and a file is looked up by name, without an
    object per file; iterating gives the files as objects."""

    __slots__ = ()

    @abstractmethod
    def find(self, filename: str) -> FileT | None:
        """The file called ``filename``, if the table has it."""

    @abstractmethod
    def fields(self) -> Iterator[FileFields]:
        """What a page renders of each file."""


def find_file(files: Sequence[DistributionFile], filename: str) -> DistributionFile | None:
    """The first of ``files`` called ``filename``."""
    if isinstance(files, FileTable):
        return files.find(filename)
    return next((file for file in files if file.filename == filename), None)


@dataclass(frozen=True, slots=True)
class Release:
    """A version of a project and the core metadata of its first upload."""

    version: str
    metadata: dict[str, Any]
    yanked: bool = False
    yanked_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectDetail:
    """Everything a project page or the JSON API renders."""

    index: IndexName
    name: ProjectName
    display_name: str
    files: Sequence[DistributionFile]  # a tuple, or a proxy page's FileTable
    versions: tuple[str, ...]
    status: ProjectStatus = ProjectStatus.ACTIVE
    status_reason: str | None = None
    last_serial: int = 0
    releases: dict[str, Release] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """One entry of an index's project list."""

    name: ProjectName
    display_name: str
    last_serial: int = 0
