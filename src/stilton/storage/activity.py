"""Queries for the operators' pages: the latest uploads across hosted indexes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from stilton.storage.schema import files, indexes, projects, releases


@dataclass(frozen=True, slots=True)
class Upload:
    index: str
    project: str
    version: str
    filename: str
    size: int
    upload_time: datetime
    uploaded_by: str | None


def recent_uploads(connection: Connection, limit: int = 50) -> list[Upload]:
    rows = connection.execute(
        select(
            indexes.c.name.label("index_name"),
            projects.c.name.label("project"),
            releases.c.version,
            files.c.filename,
            files.c.size,
            files.c.upload_time,
            files.c.uploaded_by,
        )
        .join(projects, projects.c.id == files.c.project_id)
        .join(releases, releases.c.id == files.c.release_id)
        .join(indexes, indexes.c.id == files.c.index_id)
        .where(files.c.deleted_at.is_(None))
        .order_by(files.c.upload_time.desc(), files.c.id.desc())
        .limit(limit)
    )
    return [
        Upload(r.index_name, r.project, r.version, r.filename, r.size, r.upload_time, r.uploaded_by)
        for r in rows
    ]
