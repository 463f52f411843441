"""What is stored, read in bulk: every file of an index (for a mirror's sync and for export)
and every blob the database refers to (for ``stilton verify``). One query each, not one per
file, so that indexes of 100,000 files are read in a moment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, true

from stilton.core.model import ProjectStatus
from stilton.core.names import IndexName, ProjectName
from stilton.storage.catalog import IndexRecord
from stilton.storage.schema import (
    cached_files,
    files,
    indexes,
    journal,
    mirror_files,
    projects,
    releases,
    upstream_file_facts,
)

ADDED = ("add file", "restore file")  # journal actions that make a file live


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """A file row of an index (deleted ones too), as a mirror's sync compares it."""

    filename: str
    project: ProjectName
    version: str
    sha256: str
    yanked: bool
    yanked_reason: str | None
    deleted: bool
    metadata_sha256: str | None


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """A live file and everything a static tree and a bundle's manifest say of it."""

    project: ProjectName
    display_name: str
    status: ProjectStatus
    status_reason: str | None
    version: str
    filename: str
    packagetype: str
    sha256: str
    size: int
    requires_python: str | None
    upload_time: datetime
    yanked: bool
    yanked_reason: str | None
    metadata_sha256: str | None
    metadata_size: int | None


@dataclass(frozen=True, slots=True)
class BlobReference:
    """A blob the database says exists: whose it is, its digest and (where known) its size."""

    index: IndexName
    what: str  # a filename, or a filename + ".metadata"
    sha256: str
    size: int | None


def index_files(connection: Connection, index: IndexRecord) -> dict[str, IndexedFile]:
    rows = connection.execute(
        select(
            files.c.filename,
            projects.c.name,
            releases.c.version,
            files.c.sha256,
            files.c.yanked,
            files.c.yanked_reason,
            files.c.deleted_at,
            files.c.metadata_sha256,
        )
        .join(projects, projects.c.id == files.c.project_id)
        .join(releases, releases.c.id == files.c.release_id)
        .where(files.c.index_id == index.id)
    )
    return {
        row.filename: IndexedFile(
            row.filename,
            ProjectName(row.name),
            row.version,
            row.sha256,
            row.yanked,
            row.yanked_reason,
            row.deleted_at is not None,
            row.metadata_sha256,
        )
        for row in rows
    }


def _exported(row: Row[Any]) -> ExportedFile:
    return ExportedFile(
        ProjectName(row.project),
        row.display_name,
        ProjectStatus(row.status),
        row.status_reason,
        row.version,
        row.filename,
        row.packagetype,
        row.sha256,
        row.size,
        row.requires_python,
        row.upload_time,
        row.yanked,
        row.yanked_reason,
        row.metadata_sha256,
        row.metadata_size,
    )


def files_to_export(
    connection: Connection, index: IndexRecord, since: datetime | None = None
) -> list[ExportedFile]:
    """Live files, in page order; with ``since``, only those that became live since then
    (by the journal: a mirror keeps the upstream's upload time, not when it stored a file)."""
    query = (
        select(
            files,
            projects.c.name.label("project"),
            projects.c.display_name,
            projects.c.status,
            projects.c.status_reason,
            releases.c.version,
        )
        .join(projects, projects.c.id == files.c.project_id)
        .join(releases, releases.c.id == files.c.release_id)
        .where(files.c.index_id == index.id, files.c.deleted_at.is_(None))
        .order_by(projects.c.name, files.c.upload_time, files.c.filename)
    )
    if since is not None:
        recent = select(journal.c.filename).where(
            journal.c.index_id == index.id,
            journal.c.action.in_(ADDED),
            journal.c.created_at >= since,
            journal.c.filename.is_not(None),
        )
        query = query.where(files.c.filename.in_(recent))
    return [_exported(row) for row in connection.execute(query)]


def count_files(connection: Connection, index: IndexRecord) -> int:
    value = connection.execute(
        select(func.count())
        .select_from(files)
        .where(files.c.index_id == index.id, files.c.deleted_at.is_(None))
    ).scalar()
    return int(value or 0)


def blob_references(connection: Connection, index: str | None = None) -> Iterator[BlobReference]:
    """Every blob the database refers to: live files and their metadata, and the files proxies
    keep; of one index, or of all. (A proxy's learnt metadata may be gone legitimately: it is
    fetched again when missing.)"""
    where_index = (indexes.c.name == index) if index is not None else true()
    live = connection.execute(
        select(
            indexes.c.name,
            files.c.filename,
            files.c.sha256,
            files.c.size,
            files.c.metadata_sha256,
            files.c.metadata_size,
        )
        .join(indexes, indexes.c.id == files.c.index_id)
        .where(where_index, files.c.deleted_at.is_(None))
    )
    for row in live:
        yield BlobReference(IndexName(row.name), row.filename, row.sha256, row.size)
        if row.metadata_sha256 is not None:
            what = row.filename + ".metadata"
            yield BlobReference(IndexName(row.name), what, row.metadata_sha256, row.metadata_size)
    cached = connection.execute(
        select(indexes.c.name, cached_files.c.sha256, cached_files.c.size)
        .join(indexes, indexes.c.id == cached_files.c.index_id)
        .where(where_index)
    )
    for kept in cached:
        what = f"cached file {kept.sha256[:12]}"
        yield BlobReference(IndexName(kept.name), what, kept.sha256, kept.size)


DIGEST_COLUMNS = (
    files.c.sha256,
    files.c.metadata_sha256,
    cached_files.c.sha256,
    upstream_file_facts.c.sha256,
    upstream_file_facts.c.metadata_sha256,
    mirror_files.c.sha256,
)


def known_digests(connection: Connection) -> set[str]:
    """Every digest any row refers to, live or not (a deleted file's blob is kept)."""
    known: set[str] = set()
    for column in DIGEST_COLUMNS:
        known.update(value for (value,) in connection.execute(select(column)) if value)
    return known


def is_known_digest(connection: Connection, sha256: str) -> bool:
    """Whether any row refers to ``sha256`` (one indexed lookup per column, at most)."""
    for column in DIGEST_COLUMNS:
        if connection.execute(select(column).where(column == sha256).limit(1)).first():
            return True
    return False
