"""The brute-force guard's counts per client address, shared by every worker and replica.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stilton.storage.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("window_started", UTCDateTime, nullable=False),
        sa.Column("locked_until", UTCDateTime),
    )
    op.create_index("ix_login_attempts_window_started", "login_attempts", ["window_started"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_window_started", "login_attempts")
    op.drop_table("login_attempts")
