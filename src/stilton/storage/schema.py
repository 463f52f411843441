"""The database schema (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Alembic migrations in ``migrations/`` create and evolve it; this module is the current shape
the queries are written against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and read back timezone-aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

indexes = Table(
    "indexes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("config", JSON, nullable=False, default=dict),
    # Bumped by every change to the index; page caches of every process compare against it.
    Column("generation", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),  # PEP 503 normalized
    Column("display_name", String(255), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("status_reason", Text),
    Column("last_serial", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("index_id", "name"),
)

releases = Table(
    "releases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(255), nullable=False),
    Column("canonical_version", String(255), nullable=False),
    Column("metadata", JSON, nullable=False, default=dict),  # from the release's first upload
    Column("yanked", Boolean, nullable=False, default=False),
    Column("yanked_reason", Text),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("project_id", "canonical_version"),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("release_id", Integer, ForeignKey("releases.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("packagetype", String(16), nullable=False),
    Column("python_version", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blake2b_256", String(64), nullable=False),
    Column("md5", String(32), nullable=False),
    Column("requires_python", Text),
    Column("upload_time", UTCDateTime, nullable=False),
    Column("yanked", Boolean, nullable=False, default=False),
    Column("yanked_reason", Text),
    Column("metadata_sha256", String(64)),
    Column("metadata_size", BigInteger),
    Column("comment", Text),
    Column("uploaded_by", String(255)),
    # A deleted file keeps its row: its filename can never hold other bytes again.
    Column("deleted_at", UTCDateTime),
    UniqueConstraint("index_id", "filename"),
    Index(None, "index_id", "sha256"),
    Index(None, "project_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the secret
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE")),  # NULL: every index
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),  # NULL: no owner
    Column("scopes", JSON),  # indexes, actions, projects (see core.permissions.TokenScope)
    Column("expires_at", UTCDateTime),
)

# Every change, in order; its id is the serial of the project it touched (PyPI's journal).
journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("project", String(255), nullable=False),
    Column("version", String(255)),
    Column("filename", String(255)),
    Column("action", String(32), nullable=False),
    Column("actor", String(255), nullable=False, default=""),
    Column("detail", Text),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

# The change feed: one row per change to what an index serves, written in the transaction that
# makes the change. Every process reads the rows after the last one it saw and drops exactly the
# cached pages they touch (``storage.changes``). Old rows are pruned; ids only grow.
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),  # project | index | auth
    Column("index_name", String(64)),  # None: not about one index (users, tokens)
    Column("project", String(255)),  # None: the whole index
    Column("at", UTCDateTime, nullable=False, default=utcnow),
    Index(None, "at"),
    sqlite_autoincrement=True,  # ids are never reused after a prune
)

# Key-value facts about the installation (e.g. which default layout it has).
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# A proxy index's copy of each upstream project page: the page as one compressed document
# (``upstream.compact``), its validators, and when the upstream last sent and confirmed it.
upstream_pages = Table(
    "upstream_pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("serial", BigInteger),
    Column("document", LargeBinary, nullable=False),
    Column("files", Integer, nullable=False),  # how many files the page lists
    Column("fetched_at", UTCDateTime, nullable=False),  # last time the upstream sent the page
    Column("checked_at", UTCDateTime, nullable=False),  # last time the upstream confirmed it
    UniqueConstraint("index_id", "name"),
)

# What a proxy learnt about an upstream file by fetching it: the sha256 and size of its bytes
# (where the upstream gave none) and its core metadata. Written only for files fetched.
upstream_file_facts = Table(
    "upstream_file_facts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("project", String(255), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the bytes the facts were learnt from
    Column("size", BigInteger),
    Column("metadata_sha256", String(64)),
    Column("metadata_size", BigInteger),
    UniqueConstraint("index_id", "filename"),
    Index(None, "index_id", "project"),
)

# Files a proxy has downloaded and keeps, for least-recently-used eviction.
cached_files = Table(
    "cached_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_id", Integer, ForeignKey("indexes.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_access", UTCDateTime, nullable=False),
    UniqueConstraint("index_id", "sha256"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(128), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("groups", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

# Who did what, when, from where: uploads, deletes, yanks, permission changes, failed logins.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, default=utcnow),
    Column("actor", String(255), nullable=False),
    Column("address", String(64), nullable=False, default=""),
    Column("action", String(64), nullable=False),
    Column("index_name", String(64)),
    Column("project", String(255)),
    Column("detail", Text),
)

# The brute-force guard's counts, one row per client address, shared by every worker and
# replica: the credential checks it began in the current window (counted as they arrive, reset
# by a success) and when its lockout ends (``storage.guard``). Quiet rows are pruned.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("address", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("window_started", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime),
    Index(None, "window_started"),
)

# The web interface's search index: a project of a hosted or proxy index as search and the
# project lists show it, kept up to date from the journal (``storage.search``). On SQLite the
# FTS5 tables ``search_words`` and ``search_trigrams`` (rowid = this table's id) hold its
# words and its name's trigrams; on PostgreSQL a GIN index does (migration 0007).
search_docs = Table(
    "search_docs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("index_name", String(64), nullable=False),
    Column("name", String(255), nullable=False),  # PEP 503 normalized
    Column("display_name", String(255), nullable=False),
    Column("summary", Text),
    Column("version", String(255)),  # the latest
    Column("updated_at", UTCDateTime),  # the last upload (a proxy: when the page was fetched)
    UniqueConstraint("index_name", "name"),
    Index(None, "name"),
)

# A mirror: what ``stilton mirror`` keeps in step with an upstream repository, the hosted index
# it fills, and how its last run went (``storage.mirrors``).
mirrors = Table(
    "mirrors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("index_name", String(64), nullable=False),  # a hosted index
    Column("config", JSON, nullable=False, default=dict),  # mirror.config.MirrorConfig
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_started", UTCDateTime),
    Column("last_finished", UTCDateTime),  # None while a run is under way (or was cut short)
    Column("last_status", String(16)),  # running | ok | errors | failed
    Column("last_report", JSON),  # counts and problems of the last finished run
    Column("last_error", Text),
)

# The upstream page of each project a mirror follows, with its validators, so that the next run
# asks with If-None-Match and reuses the page on 304.
mirror_projects = Table(
    "mirror_projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mirror_id", Integer, ForeignKey("mirrors.id", ondelete="CASCADE"), nullable=False),
    Column("project", String(255), nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("serial", BigInteger),
    Column("document", LargeBinary, nullable=False),  # upstream.compact form of the page
    Column("checked_at", UTCDateTime, nullable=False),
    UniqueConstraint("mirror_id", "project"),
)

# The files a mirror stored in its index: what it may later yank, remove or prune there.
mirror_files = Table(
    "mirror_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mirror_id", Integer, ForeignKey("mirrors.id", ondelete="CASCADE"), nullable=False),
    Column("project", String(255), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("mirror_id", "filename"),
    Index(None, "mirror_id", "project"),
)
