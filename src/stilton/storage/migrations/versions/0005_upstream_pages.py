"""A proxy's upstream pages as one compressed document per project (format 1 of
``upstream.compact``), and what it learnt per fetched file, instead of a row per upstream file.

Existing pages are converted, so an offline proxy keeps serving what it had.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa
from alembic import op

from stilton.storage.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _pages_table() -> None:
    op.create_table(
        "upstream_pages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "index_id", sa.Integer, sa.ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("serial", sa.BigInteger),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("index_id", "name"),
    )
    op.create_table(
        "upstream_file_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "index_id", sa.Integer, sa.ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger),
        sa.Column("metadata_sha256", sa.String(64)),
        sa.Column("metadata_size", sa.BigInteger),
        sa.UniqueConstraint("index_id", "filename"),
    )
    op.create_index(
        "ix_upstream_file_facts_index_id_project", "upstream_file_facts", ["index_id", "project"]
    )


def _time(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace(" ", "T")
    return text if "+" in text or text.endswith("Z") else text + "+00:00"


def _entry(row: Any) -> list[Any]:
    yanked: object = (row.yanked_reason or True) if row.yanked else False
    metadata: object = (row.upstream_metadata_sha256 or True) if row.upstream_metadata else False
    return [
        row.filename, row.url, row.version, row.sha256, row.size, _time(row.upload_time),
        row.requires_python, yanked, metadata, row.provenance_url,
    ]  # fmt: skip


def _convert(connection: sa.Connection) -> None:
    meta = sa.MetaData()
    old_projects = sa.Table("upstream_projects", meta, autoload_with=connection)
    old_files = sa.Table("upstream_files", meta, autoload_with=connection)
    cached = sa.Table("cached_files", meta, autoload_with=connection)
    pages = sa.Table("upstream_pages", meta, autoload_with=connection)
    facts = sa.Table("upstream_file_facts", meta, autoload_with=connection)
    for project in connection.execute(sa.select(old_projects)).all():
        rows = connection.execute(
            sa.select(old_files).where(old_files.c.project_id == project.id)
        ).all()
        document = {
            "v": 1,
            "project": project.name,
            "serial": project.serial,
            "status": project.status,
            "status_reason": project.status_reason,
            "versions": list(project.versions or []),
            "files": [_entry(row) for row in rows],
        }
        body = zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)
        connection.execute(
            sa.insert(pages).values(
                index_id=project.index_id, name=project.name, etag=project.etag,
                last_modified=project.last_modified, serial=project.serial, document=body,
                files=len(rows), fetched_at=project.fetched_at, checked_at=project.checked_at,
            )
        )  # fmt: skip
        kept = {
            r.sha256
            for r in connection.execute(
                sa.select(cached.c.sha256).where(cached.c.index_id == project.index_id)
            )
        }
        for row in rows:
            if row.sha256 and (row.metadata_sha256 or row.sha256 in kept):
                connection.execute(
                    sa.insert(facts).values(
                        index_id=project.index_id, project=project.name, filename=row.filename,
                        sha256=row.sha256, size=row.size, metadata_sha256=row.metadata_sha256,
                        metadata_size=row.metadata_size,
                    )
                )  # fmt: skip


def upgrade() -> None:
    _pages_table()
    _convert(op.get_bind())
    op.drop_table("upstream_files")
    op.drop_table("upstream_projects")


def downgrade() -> None:
    # The old tables come back empty: a proxy fetches its pages again.
    op.drop_table("upstream_file_facts")
    op.drop_table("upstream_pages")
    op.create_table(
        "upstream_projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("index_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("serial", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "upstream_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("index_id", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size", sa.BigInteger),
        sa.Column("upload_time", UTCDateTime),
        sa.Column("requires_python", sa.Text),
        sa.Column("yanked", sa.Boolean, nullable=False),
        sa.Column("yanked_reason", sa.Text),
        sa.Column("upstream_metadata", sa.Boolean, nullable=False),
        sa.Column("upstream_metadata_sha256", sa.String(64)),
        sa.Column("metadata_sha256", sa.String(64)),
        sa.Column("metadata_size", sa.BigInteger),
        sa.Column("provenance_url", sa.Text),
    )
