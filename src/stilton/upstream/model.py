"""An upstream project page as a proxy holds it: its files as compact rows (the lists its kept
document stores), not as an object per file. A page may list 15,000 files: it is parsed,
kept, rendered and searched by name without building one; iterating gives the files as
``UpstreamFile`` objects, built once, for the few who need them all (a group merge, a policy,
a mirror).

A row is a list, in this order: filename, url (absolute), version, sha256 (None where the
upstream gave none), size, upload time (a datetime in UTC, or the text orjson writes for one
with ``ROW_JSON``), requires-python, yanked (False, True or the reason), metadata (False; True,
or its sha256, where the upstream serves it), provenance URL; and, where the proxy learnt the
metadata's sha256 of a file the upstream serves none for, that sha256.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, overload

import orjson

from stilton.core.filenames import PackageType, quick_kind
from stilton.core.model import Digests, DistributionFile, FileFields, FileTable, ProjectStatus
from stilton.core.names import ProjectName

Row = list[Any]
# How rows are written as JSON: a datetime as render_simple writes it, so that a row read back
# renders the same bytes as the row it was written from.
ROW_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
SCANS_BEFORE_INDEXING = 3


@dataclass(frozen=True, slots=True)
class UpstreamFile(DistributionFile):
    """A file of an upstream page as a proxy serves it, with where to fetch it and whether the
    upstream serves its core metadata. Every wheel offers metadata (passed through, or
    extracted on first request). A sha256 the upstream did not give is "" until the proxy
    learns it."""

    url: str = ""  # absolute
    upstream_metadata: bool = False  # the upstream serves PEP 658 metadata at url + .metadata


class Learnt(Protocol):
    """What a proxy learnt about a file by fetching it."""

    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int | None: ...
    @property
    def metadata_sha256(self) -> str | None: ...


def row_of(file: UpstreamFile) -> Row:
    yanked: object = (file.yanked_reason or True) if file.yanked else False
    metadata: object = (file.metadata_sha256 or True) if file.upstream_metadata else False
    row = [
        file.filename, file.url, file.version, file.sha256 or None, file.size,
        file.upload_time, file.requires_python, yanked, metadata, file.provenance_url,
    ]  # fmt: skip
    if file.metadata_sha256 and not file.upstream_metadata:
        row.append(file.metadata_sha256)
    return row


def file_of(row: Row) -> UpstreamFile:
    filename, url, version, sha256, size, upload_time, requires_python, yanked, metadata = row[:9]
    packagetype, python_version = quick_kind(filename)
    return UpstreamFile(
        filename,
        version,
        packagetype,
        python_version,
        size,
        Digests(sha256 or ""),
        datetime.fromisoformat(upload_time) if isinstance(upload_time, str) else upload_time,
        requires_python,
        yanked is not False,
        yanked if isinstance(yanked, str) else None,
        packagetype is PackageType.WHEEL,
        metadata if isinstance(metadata, str) else (row[10] if len(row) > 10 else None),
        None,
        row[9],
        url,
        metadata is not False,
    )


def learnt_row(row: Row, learnt: Learnt | None) -> Row:
    """The row with what was learnt about its file; unchanged if nothing was, or if it was
    learnt about other bytes than the upstream now names."""
    if learnt is None or (row[3] and learnt.sha256 != row[3]):
        return row
    changed = row[:10]
    changed[3] = learnt.sha256
    if changed[4] is None:
        changed[4] = learnt.size
    if learnt.metadata_sha256 and not isinstance(changed[8], str):
        if changed[8] is True:
            changed[8] = learnt.metadata_sha256
        else:
            changed.append(learnt.metadata_sha256)
    return changed


class PageFiles(FileTable[UpstreamFile]):
    """The files of an upstream page, as rows."""

    __slots__ = ("_by_name", "_files", "_searches", "rows")

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._files: tuple[UpstreamFile, ...] | None = None
        self._by_name: dict[str, Row] | None = None
        self._searches = 0

    @classmethod
    def of(cls, files: Iterable[UpstreamFile]) -> PageFiles:
        return cls([row_of(file) for file in files])

    def files(self) -> tuple[UpstreamFile, ...]:
        """Every file as an object (built on first use, then kept)."""
        if self._files is None:
            self._files = tuple(file_of(row) for row in self.rows)
        return self._files

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> UpstreamFile: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[UpstreamFile, ...]: ...
    def __getitem__(self, index: int | slice) -> UpstreamFile | tuple[UpstreamFile, ...]:
        return self.files()[index]

    def __iter__(self) -> Iterator[UpstreamFile]:
        return iter(self.files())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and self.files() == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PageFiles({list(self.files())!r})"

    def find_row(self, filename: str) -> Row | None:
        # A page is searched a few times (a file and its metadata, through a group and then
        # its member): scanning costs less than indexing 15,000 rows until it is searched more.
        if self._by_name is None:
            self._searches += 1
            if self._searches <= SCANS_BEFORE_INDEXING:
                return next((row for row in self.rows if row[0] == filename), None)
            self._by_name = {row[0]: row for row in reversed(self.rows)}  # the first one wins
        return self._by_name.get(filename)

    def find(self, filename: str) -> UpstreamFile | None:
        row = self.find_row(filename)
        return file_of(row) if row is not None else None

    def learnt(self, facts: Mapping[str, Learnt]) -> PageFiles:
        """The files with what was learnt about them."""
        if not facts:
            return self
        return PageFiles([learnt_row(row, facts.get(row[0])) for row in self.rows])

    def hashed(self) -> PageFiles:
        """The files whose sha256 is known (the only ones a proxy serves)."""
        rows = [row for row in self.rows if row[3]]
        return self if len(rows) == len(self.rows) else PageFiles(rows)

    def versions(self) -> set[str]:
        return {row[2] for row in self.rows}

    def fields(self) -> Iterator[FileFields]:
        for row in self.rows:
            filename, metadata = row[0], row[8]
            if type(metadata) is not str:
                # Every wheel's metadata is served (extracted where the upstream has none).
                learnt = row[10] if len(row) > 10 else None
                metadata = filename.endswith(".whl") and (learnt or True)
            yield filename, row[3] or "", row[4], row[5], row[6], row[7], metadata, row[9]


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    """An upstream project page: its files, and what it says of the project (PEP 700 versions,
    PEP 792 status)."""

    project: ProjectName
    files: PageFiles
    serial: int | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    status_reason: str | None = None
    versions: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, project: ProjectName, files: Iterable[UpstreamFile], **fields: Any) -> UpstreamPage:
        """A page of these files (built as objects: tests, a find-links directory)."""
        return cls(project, PageFiles.of(files), **fields)
