"""Queries over indexes, projects, releases and files.

Every function takes an open connection, so callers decide the transaction; a change writes a
journal row (its id becomes the project's serial) and publishes itself on the change feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packaging.utils import canonicalize_version
from sqlalchemy import Connection, Row, and_, func, insert, select, update

from stilton.core.errors import Conflict, NotFound
from stilton.core.filenames import PackageType
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
from stilton.core.versions import version_sort_key
from stilton.storage.changes import ChangeScope, publish
from stilton.storage.schema import (
    audit_log,
    files,
    indexes,
    journal,
    meta,
    projects,
    releases,
    utcnow,
)
from stilton.storage.upserts import conflict_insert


@dataclass(frozen=True, slots=True)
class IndexRecord:
    id: int
    name: IndexName
    kind: IndexKind
    config: dict[str, Any]
    generation: int


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file row as the upload and serving paths need it (deleted ones included)."""

    id: int
    filename: str
    sha256: str
    blake2b_256: str
    size: int
    metadata_sha256: str | None
    metadata_size: int | None
    deleted: bool


def _index_record(row: Row[Any]) -> IndexRecord:
    return IndexRecord(
        row.id, IndexName(row.name), IndexKind(row.kind), dict(row.config or {}), row.generation
    )


def find_index(connection: Connection, name: str) -> IndexRecord | None:
    row = connection.execute(select(indexes).where(indexes.c.name == name)).first()
    return _index_record(row) if row else None


def get_index(connection: Connection, name: str) -> IndexRecord:
    record = find_index(connection, name)
    if record is None:
        raise NotFound(f"No index named {name!r}.")
    return record


def list_indexes(connection: Connection) -> list[IndexRecord]:
    rows = connection.execute(select(indexes).order_by(indexes.c.name))
    return [_index_record(row) for row in rows]


def create_index(
    connection: Connection, name: IndexName, kind: IndexKind, config: dict[str, Any]
) -> IndexRecord:
    if find_index(connection, name) is not None:
        raise Conflict(f"An index named {name!r} already exists.")
    connection.execute(
        insert(indexes).values(name=name, kind=kind.value, config=config, generation=1)
    )
    publish(connection, ChangeScope.INDEX, name)
    return get_index(connection, name)


def get_meta(connection: Connection, key: str) -> str | None:
    return connection.execute(select(meta.c.value).where(meta.c.key == key)).scalar()


def set_meta(connection: Connection, key: str, value: str) -> None:
    """An upsert: processes and replicas setting one key at once neither fail nor double it."""
    statement = conflict_insert(connection, meta).values(key=key, value=value)
    connection.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )


def update_index_config(connection: Connection, index: IndexRecord, config: dict[str, Any]) -> None:
    connection.execute(
        update(indexes)
        .where(indexes.c.id == index.id)
        .values(config=config, generation=indexes.c.generation + 1)
    )
    publish(connection, ChangeScope.INDEX, index.name)


def record_change(
    connection: Connection,
    index: IndexRecord,
    project: ProjectName,
    action: str,
    *,
    version: str | None = None,
    filename: str | None = None,
    actor: str = "",
    detail: str | None = None,
    address: str = "",
) -> int:
    """Journal a change, set the project's serial to it, publish it to the caches of every
    process, and put it in the audit log (who, when, from where)."""
    serial = connection.execute(
        insert(journal).values(
            index_id=index.id,
            project=project,
            version=version,
            filename=filename,
            action=action,
            actor=actor,
            detail=detail,
            created_at=utcnow(),
        )
    ).inserted_primary_key
    assert serial is not None
    connection.execute(
        update(projects)
        .where(and_(projects.c.index_id == index.id, projects.c.name == project))
        .values(last_serial=serial[0])
    )
    publish(connection, ChangeScope.PROJECT, index.name, project)
    what = ", ".join(x for x in (filename or version, detail) if x) or None
    connection.execute(
        insert(audit_log).values(
            at=utcnow(),
            actor=actor or "unknown",
            address=address,
            action=action,
            index_name=index.name,
            project=project,
            detail=what,
        )
    )
    return int(serial[0])


def list_projects(connection: Connection, index: IndexRecord) -> list[ProjectSummary]:
    """Projects with at least one live file."""
    live = select(files.c.project_id).where(files.c.deleted_at.is_(None)).distinct()
    rows = connection.execute(
        select(projects.c.name, projects.c.display_name, projects.c.last_serial)
        .where(projects.c.index_id == index.id, projects.c.id.in_(live))
        .order_by(projects.c.name)
    )
    return [ProjectSummary(ProjectName(r.name), r.display_name, r.last_serial) for r in rows]


def last_serial(connection: Connection, index: IndexRecord) -> int:
    value = connection.execute(
        select(func.max(journal.c.id)).where(journal.c.index_id == index.id)
    ).scalar()
    return int(value or 0)


def _distribution_file(index: IndexRecord, project: ProjectName, row: Row[Any]) -> DistributionFile:
    return DistributionFile(
        filename=row.filename,
        version=row.version,
        packagetype=PackageType(row.packagetype),
        python_version=row.python_version,
        size=row.size,
        digests=Digests(row.sha256, row.blake2b_256, row.md5),
        upload_time=row.upload_time,
        requires_python=row.requires_python,
        yanked=row.yanked,
        yanked_reason=row.yanked_reason,
        has_metadata=row.metadata_sha256 is not None,
        metadata_sha256=row.metadata_sha256,
        comment=row.comment,
    )


def find_project_detail(
    connection: Connection, index: IndexRecord, name: ProjectName
) -> ProjectDetail | None:
    """The project's live files and releases, or None if it has no live file."""
    project = connection.execute(
        select(projects).where(projects.c.index_id == index.id, projects.c.name == name)
    ).first()
    if project is None:
        return None
    rows = connection.execute(
        select(files, releases.c.version)
        .join(releases, releases.c.id == files.c.release_id)
        .where(files.c.project_id == project.id, files.c.deleted_at.is_(None))
        .order_by(files.c.upload_time, files.c.filename)
    ).all()
    if not rows:
        return None
    live_versions = {row.version for row in rows}
    release_rows = connection.execute(
        select(releases).where(releases.c.project_id == project.id)
    ).all()
    release_map = {
        r.version: Release(r.version, dict(r.metadata or {}), r.yanked, r.yanked_reason)
        for r in release_rows
        if r.version in live_versions
    }
    return ProjectDetail(
        index=index.name,
        name=name,
        display_name=project.display_name,
        files=tuple(_distribution_file(index, name, row) for row in rows),
        versions=tuple(sorted(live_versions, key=version_sort_key)),
        status=ProjectStatus(project.status),
        status_reason=project.status_reason,
        last_serial=project.last_serial,
        releases=release_map,
    )


def _stored_file(row: Row[Any]) -> StoredFile:
    return StoredFile(
        row.id,
        row.filename,
        row.sha256,
        row.blake2b_256,
        row.size,
        row.metadata_sha256,
        row.metadata_size,
        row.deleted_at is not None,
    )


def find_file_by_name(
    connection: Connection, index: IndexRecord, filename: str
) -> StoredFile | None:
    row = connection.execute(
        select(files).where(files.c.index_id == index.id, files.c.filename == filename)
    ).first()
    return _stored_file(row) if row else None


def find_file_by_sha256(
    connection: Connection, index: IndexRecord, sha256: str
) -> StoredFile | None:
    row = connection.execute(
        select(files).where(files.c.index_id == index.id, files.c.sha256 == sha256).limit(1)
    ).first()
    return _stored_file(row) if row else None


def find_live_file(
    connection: Connection, index_name: str, sha256: str, filename: str
) -> StoredFile | None:
    """The live file of that index with that digest and name, as a file URL names it."""
    row = connection.execute(
        select(files)
        .join(indexes, indexes.c.id == files.c.index_id)
        .where(
            indexes.c.name == index_name,
            files.c.sha256 == sha256,
            files.c.filename == filename,
            files.c.deleted_at.is_(None),
        )
    ).first()
    return _stored_file(row) if row else None


def has_sdist(connection: Connection, release_id: int) -> bool:
    row = connection.execute(
        select(files.c.id).where(
            files.c.release_id == release_id,
            files.c.packagetype == PackageType.SDIST.value,
            files.c.deleted_at.is_(None),
        )
    ).first()
    return row is not None


def find_project_id(connection: Connection, index: IndexRecord, name: ProjectName) -> int | None:
    row = connection.execute(
        select(projects.c.id).where(projects.c.index_id == index.id, projects.c.name == name)
    ).first()
    return int(row.id) if row else None


def ensure_project(
    connection: Connection, index: IndexRecord, name: ProjectName, display: str
) -> int:
    project_id = find_project_id(connection, index, name)
    if project_id is not None:
        return project_id
    result = connection.execute(
        insert(projects).values(
            index_id=index.id,
            name=name,
            display_name=display,
            status=ProjectStatus.ACTIVE.value,
            last_serial=0,
            created_at=utcnow(),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def ensure_release(
    connection: Connection, project_id: int, version: str, metadata: dict[str, Any]
) -> int:
    """The release row; its metadata is that of the first upload (as PyPI keeps it)."""
    canonical = canonicalize_version(version)
    row = connection.execute(
        select(releases.c.id).where(
            releases.c.project_id == project_id, releases.c.canonical_version == canonical
        )
    ).first()
    if row:
        return int(row.id)
    result = connection.execute(
        insert(releases).values(
            project_id=project_id,
            version=version,
            canonical_version=canonical,
            metadata=metadata,
            yanked=False,
            created_at=utcnow(),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def find_release_id(connection: Connection, project_id: int, version: str) -> int | None:
    row = connection.execute(
        select(releases.c.id).where(
            releases.c.project_id == project_id,
            releases.c.canonical_version == canonicalize_version(version),
        )
    ).first()
    return int(row.id) if row else None


def insert_file(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(files).values(**values))


@dataclass(frozen=True, slots=True)
class LiveFileRow:
    id: int
    filename: str
    release_id: int
    version: str


def select_live_files(
    connection: Connection,
    index: IndexRecord,
    project: ProjectName,
    version: str | None,
    filename: str | None,
) -> list[LiveFileRow]:
    """Live files of a project, narrowed to a version and/or one filename."""
    query = (
        select(files.c.id, files.c.filename, files.c.release_id, releases.c.version)
        .join(releases, releases.c.id == files.c.release_id)
        .join(projects, projects.c.id == files.c.project_id)
        .where(
            projects.c.index_id == index.id,
            projects.c.name == project,
            files.c.deleted_at.is_(None),
        )
    )
    if version is not None:
        query = query.where(releases.c.canonical_version == canonicalize_version(version))
    if filename is not None:
        query = query.where(files.c.filename == filename)
    return [
        LiveFileRow(r.id, r.filename, r.release_id, r.version) for r in connection.execute(query)
    ]


def set_yanked(
    connection: Connection,
    file_ids: Sequence[int],
    release_ids: Sequence[int],
    reason: str | None,
    yanked: bool,
) -> None:
    connection.execute(
        update(files).where(files.c.id.in_(file_ids)).values(yanked=yanked, yanked_reason=reason)
    )
    if release_ids:
        connection.execute(
            update(releases)
            .where(releases.c.id.in_(release_ids))
            .values(yanked=yanked, yanked_reason=reason)
        )


def mark_deleted(connection: Connection, file_ids: Sequence[int], moment: datetime) -> None:
    connection.execute(update(files).where(files.c.id.in_(file_ids)).values(deleted_at=moment))
