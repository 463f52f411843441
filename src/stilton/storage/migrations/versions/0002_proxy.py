"""Proxy indexes: upstream project pages and files, the cache of downloaded files, and meta.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stilton.storage.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "upstream_projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "index_id", sa.Integer, sa.ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("serial", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("index_id", "name"),
    )
    op.create_table(
        "upstream_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer,
            sa.ForeignKey("upstream_projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "index_id", sa.Integer, sa.ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False
        ),
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
        sa.UniqueConstraint("index_id", "filename"),
    )
    op.create_index("ix_upstream_files_index_id_sha256", "upstream_files", ["index_id", "sha256"])
    op.create_table(
        "cached_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "index_id", sa.Integer, sa.ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_access", UTCDateTime, nullable=False),
        sa.UniqueConstraint("index_id", "sha256"),
    )


def downgrade() -> None:
    for table in ("cached_files", "upstream_files", "upstream_projects", "meta"):
        op.drop_table(table)
