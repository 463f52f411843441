"""The data model every index kind speaks: projects, releases and their files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    files: tuple[DistributionFile, ...]
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
