"""Queries over a proxy index's copy of its upstream: project pages, their files, and the
files it has downloaded (for LRU eviction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.storage.catalog import IndexRecord
from stilton.storage.schema import (
    cached_files,
    files,
    upstream_files,
    upstream_projects,
)

# Columns of upstream_files that describe the upstream's file; the rest is what Stilton learnt.
UPSTREAM_FIELDS = (
    "url",
    "version",
    "size",
    "upload_time",
    "requires_python",
    "yanked",
    "yanked_reason",
    "upstream_metadata",
    "upstream_metadata_sha256",
    "provenance_url",
)


@dataclass(frozen=True, slots=True)
class UpstreamProjectRecord:
    id: int
    name: ProjectName
    etag: str | None
    last_modified: str | None
    serial: int | None
    status: ProjectStatus
    status_reason: str | None
    versions: list[str]
    fetched_at: datetime
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class UpstreamFileRecord:
    filename: str
    url: str
    version: str
    sha256: str | None
    size: int | None
    upload_time: datetime | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    upstream_metadata: bool
    upstream_metadata_sha256: str | None
    metadata_sha256: str | None
    metadata_size: int | None
    provenance_url: str | None


def _project(row: Row[Any]) -> UpstreamProjectRecord:
    return UpstreamProjectRecord(
        row.id,
        ProjectName(row.name),
        row.etag,
        row.last_modified,
        row.serial,
        ProjectStatus(row.status),
        row.status_reason,
        list(row.versions or []),
        row.fetched_at,
        row.checked_at,
    )


def _file(row: Row[Any]) -> UpstreamFileRecord:
    return UpstreamFileRecord(
        row.filename,
        row.url,
        row.version,
        row.sha256,
        row.size,
        row.upload_time,
        row.requires_python,
        row.yanked,
        row.yanked_reason,
        row.upstream_metadata,
        row.upstream_metadata_sha256,
        row.metadata_sha256,
        row.metadata_size,
        row.provenance_url,
    )


def find_project(
    connection: Connection, index: IndexRecord, name: ProjectName
) -> tuple[UpstreamProjectRecord, list[UpstreamFileRecord]] | None:
    row = connection.execute(
        select(upstream_projects).where(
            upstream_projects.c.index_id == index.id, upstream_projects.c.name == name
        )
    ).first()
    if row is None:
        return None
    file_rows = connection.execute(
        select(upstream_files)
        .where(upstream_files.c.project_id == row.id)
        .order_by(upstream_files.c.id)
    )
    return _project(row), [_file(f) for f in file_rows]


def list_projects(connection: Connection, index: IndexRecord) -> list[tuple[ProjectName, int]]:
    rows = connection.execute(
        select(upstream_projects.c.name, upstream_projects.c.serial)
        .where(upstream_projects.c.index_id == index.id)
        .order_by(upstream_projects.c.name)
    )
    return [(ProjectName(r.name), r.serial or 0) for r in rows]


def save_page(
    connection: Connection,
    index: IndexRecord,
    project: dict[str, Any],
    new_files: Sequence[dict[str, Any]],
) -> bool:
    """Store a freshly fetched page; what Stilton learnt about a file (its computed sha256, its
    metadata) is kept while the upstream's description of it is unchanged. True if the page
    served from it changes."""
    name = project["name"]
    row = connection.execute(
        select(
            upstream_projects.c.id, upstream_projects.c.status, upstream_projects.c.status_reason
        ).where(upstream_projects.c.index_id == index.id, upstream_projects.c.name == name)
    ).first()
    if row is None:
        result = connection.execute(insert(upstream_projects).values(index_id=index.id, **project))
        assert result.inserted_primary_key is not None
        project_id, changed = int(result.inserted_primary_key[0]), True
    else:
        project_id = int(row.id)
        changed = (row.status, row.status_reason) != (project["status"], project["status_reason"])
        connection.execute(
            update(upstream_projects).where(upstream_projects.c.id == project_id).values(**project)
        )
    old = {
        r.filename: r
        for r in connection.execute(
            select(upstream_files).where(upstream_files.c.project_id == project_id)
        )
    }
    for values in new_files:
        previous = old.pop(values["filename"], None)
        if previous is None:
            connection.execute(
                insert(upstream_files).values(project_id=project_id, index_id=index.id, **values)
            )
            changed = True
            continue
        same_bytes = values["sha256"] is None or values["sha256"] == previous.sha256
        same = same_bytes and all(getattr(previous, k) == values[k] for k in UPSTREAM_FIELDS)
        if same:
            continue
        update_values = dict(values)
        if same_bytes:
            update_values["sha256"] = previous.sha256  # keep a digest we computed
        else:
            update_values.update(metadata_sha256=None, metadata_size=None)
        connection.execute(
            update(upstream_files).where(upstream_files.c.id == previous.id).values(**update_values)
        )
        changed = True
    if old:
        connection.execute(
            delete(upstream_files).where(upstream_files.c.id.in_([r.id for r in old.values()]))
        )
        changed = True
    return changed


def mark_checked(
    connection: Connection, index: IndexRecord, name: ProjectName, when: datetime
) -> None:
    connection.execute(
        update(upstream_projects)
        .where(upstream_projects.c.index_id == index.id, upstream_projects.c.name == name)
        .values(checked_at=when)
    )


def forget_project(connection: Connection, index: IndexRecord, name: ProjectName) -> bool:
    result = connection.execute(
        delete(upstream_projects).where(
            upstream_projects.c.index_id == index.id, upstream_projects.c.name == name
        )
    )
    return bool(result.rowcount)


def find_file(
    connection: Connection, index: IndexRecord, filename: str
) -> UpstreamFileRecord | None:
    row = connection.execute(
        select(upstream_files).where(
            upstream_files.c.index_id == index.id, upstream_files.c.filename == filename
        )
    ).first()
    return _file(row) if row else None


def set_file_digest(
    connection: Connection, index: IndexRecord, filename: str, sha256: str, size: int
) -> None:
    connection.execute(
        update(upstream_files)
        .where(upstream_files.c.index_id == index.id, upstream_files.c.filename == filename)
        .values(sha256=sha256, size=size)
    )


def set_file_metadata(
    connection: Connection, index: IndexRecord, filename: str, sha256: str, size: int
) -> None:
    connection.execute(
        update(upstream_files)
        .where(upstream_files.c.index_id == index.id, upstream_files.c.filename == filename)
        .values(metadata_sha256=sha256, metadata_size=size)
    )


# -- the cache of downloaded files ------------------------------------------------------------


def find_cached(connection: Connection, index: IndexRecord, sha256: str) -> int | None:
    """The size of a downloaded file this proxy keeps, or None."""
    row = connection.execute(
        select(cached_files.c.size).where(
            cached_files.c.index_id == index.id, cached_files.c.sha256 == sha256
        )
    ).first()
    return int(row.size) if row else None


def add_cached(
    connection: Connection, index: IndexRecord, sha256: str, size: int, when: datetime
) -> None:
    if find_cached(connection, index, sha256) is None:
        connection.execute(
            insert(cached_files).values(
                index_id=index.id, sha256=sha256, size=size, created_at=when, last_access=when
            )
        )


def touch_cached(
    connection: Connection, index: IndexRecord, accesses: Iterable[tuple[str, datetime]]
) -> None:
    for sha256, when in accesses:
        connection.execute(
            update(cached_files)
            .where(cached_files.c.index_id == index.id, cached_files.c.sha256 == sha256)
            .values(last_access=when)
        )


def cache_stats(connection: Connection, index: IndexRecord) -> tuple[int, int]:
    """How many files the proxy keeps and their total size."""
    row = connection.execute(
        select(func.count(), func.coalesce(func.sum(cached_files.c.size), 0)).where(
            cached_files.c.index_id == index.id
        )
    ).one()
    return int(row[0]), int(row[1])


def least_recently_used(connection: Connection, index: IndexRecord) -> list[tuple[str, int]]:
    rows = connection.execute(
        select(cached_files.c.sha256, cached_files.c.size)
        .where(cached_files.c.index_id == index.id)
        .order_by(cached_files.c.last_access, cached_files.c.id)
    )
    return [(r.sha256, int(r.size)) for r in rows]


def forget_cached(connection: Connection, index: IndexRecord, sha256: str) -> None:
    connection.execute(
        delete(cached_files).where(
            cached_files.c.index_id == index.id, cached_files.c.sha256 == sha256
        )
    )


def blob_in_use(connection: Connection, sha256: str) -> bool:
    """Whether any index still needs this blob (hosted files are never evicted)."""
    hosted = select(files.c.id).where(files.c.sha256 == sha256).limit(1)
    cached = select(cached_files.c.id).where(cached_files.c.sha256 == sha256).limit(1)
    return (
        connection.execute(hosted).first() is not None
        or connection.execute(cached).first() is not None
    )
