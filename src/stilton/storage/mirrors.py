"""Queries over mirrors: their configuration and last run, the upstream pages they follow, and
the files they stored in their hosted index.

A mirror changes its index only through the catalog's functions and ``record_change``, so
every change is journaled and published like an upload; the two queries here that touch the
catalog's tables (a project's PEP 792 status, a deleted file brought back with the same bytes)
publish themselves the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from stilton.core.errors import Conflict, NotFound
from stilton.core.model import ProjectStatus
from stilton.core.names import IndexName, ProjectName
from stilton.storage import catalog
from stilton.storage.catalog import IndexRecord
from stilton.storage.schema import files, mirror_files, mirror_projects, mirrors, projects, utcnow


@dataclass(frozen=True, slots=True)
class MirrorRecord:
    id: int
    name: str
    index: IndexName
    config: dict[str, Any]
    last_started: datetime | None
    last_finished: datetime | None
    last_status: str | None
    last_report: dict[str, Any] | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class FollowedPage:
    """An upstream page as a mirror last fetched it, with its validators."""

    etag: str | None
    last_modified: str | None
    serial: int | None
    document: bytes


def _record(row: Row[Any]) -> MirrorRecord:
    return MirrorRecord(
        row.id,
        row.name,
        IndexName(row.index_name),
        dict(row.config or {}),
        row.last_started,
        row.last_finished,
        row.last_status,
        dict(row.last_report) if row.last_report is not None else None,
        row.last_error,
    )


def find_mirror(connection: Connection, name: str) -> MirrorRecord | None:
    row = connection.execute(select(mirrors).where(mirrors.c.name == name)).first()
    return _record(row) if row else None


def get_mirror(connection: Connection, name: str) -> MirrorRecord:
    record = find_mirror(connection, name)
    if record is None:
        raise NotFound(f"No mirror named {name!r}; 'stilton mirror list' shows them.")
    return record


def list_mirrors(connection: Connection) -> list[MirrorRecord]:
    return [_record(row) for row in connection.execute(select(mirrors).order_by(mirrors.c.name))]


def create_mirror(
    connection: Connection, name: str, index: IndexName, config: dict[str, Any]
) -> MirrorRecord:
    if find_mirror(connection, name) is not None:
        raise Conflict(f"A mirror named {name!r} already exists.")
    connection.execute(
        insert(mirrors).values(name=name, index_name=index, config=config, created_at=utcnow())
    )
    return get_mirror(connection, name)


def mark_started(connection: Connection, mirror: MirrorRecord, moment: datetime) -> None:
    connection.execute(
        update(mirrors)
        .where(mirrors.c.id == mirror.id)
        .values(last_started=moment, last_finished=None, last_status="running", last_error=None)
    )


def mark_finished(
    connection: Connection,
    mirror: MirrorRecord,
    status: str,
    report: dict[str, Any],
    error: str | None,
) -> None:
    connection.execute(
        update(mirrors)
        .where(mirrors.c.id == mirror.id)
        .values(last_finished=utcnow(), last_status=status, last_report=report, last_error=error)
    )


# -- the upstream pages a mirror follows -------------------------------------------------------


def find_page(connection: Connection, mirror: MirrorRecord, project: str) -> FollowedPage | None:
    row = connection.execute(
        select(mirror_projects).where(
            mirror_projects.c.mirror_id == mirror.id, mirror_projects.c.project == project
        )
    ).first()
    if row is None:
        return None
    return FollowedPage(row.etag, row.last_modified, row.serial, row.document)


def keep_page(
    connection: Connection, mirror: MirrorRecord, project: str, page: FollowedPage
) -> None:
    values = {
        "etag": page.etag,
        "last_modified": page.last_modified,
        "serial": page.serial,
        "document": page.document,
        "checked_at": utcnow(),
    }
    where = and_(mirror_projects.c.mirror_id == mirror.id, mirror_projects.c.project == project)
    if connection.execute(update(mirror_projects).where(where).values(**values)).rowcount == 0:
        connection.execute(
            insert(mirror_projects).values(mirror_id=mirror.id, project=project, **values)
        )


def forget_page(connection: Connection, mirror: MirrorRecord, project: str) -> None:
    connection.execute(
        delete(mirror_projects).where(
            mirror_projects.c.mirror_id == mirror.id, mirror_projects.c.project == project
        )
    )


# -- the files a mirror stored -----------------------------------------------------------------


def mirrored_files(connection: Connection, mirror: MirrorRecord) -> dict[str, tuple[str, str]]:
    """Every file the mirror stored: filename -> (project, sha256)."""
    rows = connection.execute(
        select(mirror_files.c.filename, mirror_files.c.project, mirror_files.c.sha256).where(
            mirror_files.c.mirror_id == mirror.id
        )
    )
    return {row.filename: (row.project, row.sha256) for row in rows}


def add_mirrored_file(
    connection: Connection, mirror: MirrorRecord, project: str, filename: str, sha256: str
) -> None:
    exists = connection.execute(
        select(mirror_files.c.id).where(
            mirror_files.c.mirror_id == mirror.id, mirror_files.c.filename == filename
        )
    ).first()
    if exists is None:
        connection.execute(
            insert(mirror_files).values(
                mirror_id=mirror.id,
                project=project,
                filename=filename,
                sha256=sha256,
                added_at=utcnow(),
            )
        )


def drop_mirrored_files(connection: Connection, mirror: MirrorRecord, names: list[str]) -> None:
    if names:
        connection.execute(
            delete(mirror_files).where(
                mirror_files.c.mirror_id == mirror.id, mirror_files.c.filename.in_(names)
            )
        )


# -- the two changes to an index the catalog has no function for --------------------------------


def set_project_status(
    connection: Connection,
    index: IndexRecord,
    project: ProjectName,
    status: ProjectStatus,
    reason: str | None,
    actor: str,
) -> bool:
    """PEP 792: take the upstream's status marker; True when it changed (and was published)."""
    row = connection.execute(
        select(projects.c.id, projects.c.status, projects.c.status_reason).where(
            projects.c.index_id == index.id, projects.c.name == project
        )
    ).first()
    if row is None or (row.status, row.status_reason) == (status.value, reason):
        return False
    connection.execute(
        update(projects)
        .where(projects.c.id == row.id)
        .values(status=status.value, status_reason=reason)
    )
    catalog.record_change(
        connection, index, project, "set status", actor=actor, detail=status.value
    )
    return True


def restore_file(
    connection: Connection,
    index: IndexRecord,
    project: ProjectName,
    filename: str,
    sha256: str,
    actor: str,
) -> bool:
    """Bring back a deleted file whose bytes are the very same (the filename keeps its bytes
    forever, so this breaks no promise); True when a file was restored."""
    result = connection.execute(
        update(files)
        .where(
            files.c.index_id == index.id,
            files.c.filename == filename,
            files.c.sha256 == sha256,
            files.c.deleted_at.is_not(None),
        )
        .values(deleted_at=None)
    )
    if result.rowcount == 0:
        return False
    catalog.record_change(
        connection, index, project, "restore file", filename=filename, actor=actor
    )
    return True
