"""The search index of the web interface: one row per project of each hosted or proxy index
(name, summary, latest version, last upload), with the database's full-text search over it:
FTS5 tables on SQLite (words, and trigrams for fuzzy names), a GIN index over a tsvector on
PostgreSQL (and a trigram index where the pg_trgm extension can be had).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stilton.storage.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_docs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("index_name", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("version", sa.String(255)),
        sa.Column("updated_at", UTCDateTime),
        sa.UniqueConstraint("index_name", "name"),
    )
    op.create_index("ix_search_docs_name", "search_docs", ["name"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE search_words USING fts5(words, tokenize='unicode61')")
        op.execute("CREATE VIRTUAL TABLE search_trigrams USING fts5(name, tokenize='trigram')")
        return
    op.execute(
        "CREATE INDEX ix_search_docs_words ON search_docs USING gin (to_tsvector('simple',"
        " replace(name, '-', ' ') || ' ' || coalesce(summary, '')))"
    )
    op.execute(
        "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;"
        " CREATE INDEX ix_search_docs_trigrams ON search_docs USING gin (name gin_trgm_ops);"
        " EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable: no fuzzy search'; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_trigrams")
        op.execute("DROP TABLE search_words")
    op.drop_table("search_docs")
