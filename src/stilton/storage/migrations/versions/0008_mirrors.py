"""Mirrors: their configuration and last run, the upstream pages they follow, and the files
they stored.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stilton.storage.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirrors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("index_name", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_started", UTCDateTime),
        sa.Column("last_finished", UTCDateTime),
        sa.Column("last_status", sa.String(16)),
        sa.Column("last_report", sa.JSON),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "mirror_projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "mirror_id",
            sa.Integer,
            sa.ForeignKey("mirrors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("serial", sa.BigInteger),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("mirror_id", "project"),
    )
    op.create_table(
        "mirror_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "mirror_id",
            sa.Integer,
            sa.ForeignKey("mirrors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("mirror_id", "filename"),
    )
    op.create_index("ix_mirror_files_mirror_id_project", "mirror_files", ["mirror_id", "project"])


def downgrade() -> None:
    op.drop_index("ix_mirror_files_mirror_id_project", "mirror_files")
    op.drop_table("mirror_files")
    op.drop_table("mirror_projects")
    op.drop_table("mirrors")
