"""Queries over a proxy index's copy of its upstream: project pages (one compressed document
each, with the validators to revalidate it), what it learnt about the files it fetched, and
the files it keeps (for LRU eviction).

Every write is an upsert or is guarded by a unique constraint, so workers and replicas that
race on the same page or file neither fail nor double a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from stilton.core.names import ProjectName
from stilton.storage.catalog import IndexRecord
from stilton.storage.schema import cached_files, files, upstream_file_facts, upstream_pages
from stilton.storage.upserts import conflict_insert


@dataclass(frozen=True, slots=True)
class StoredPage:
    """An upstream project page as kept: the compressed document and what is known of it."""

    name: ProjectName
    document: bytes
    files: int
    etag: str | None
    last_modified: str | None
    serial: int | None
    fetched_at: datetime
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What fetching one upstream file taught: the sha256 and size of its bytes, and the
    digest and size of its core metadata where known."""

    filename: str
    sha256: str
    size: int | None = None
    metadata_sha256: str | None = None
    metadata_size: int | None = None


def _page(row: Row[Any]) -> StoredPage:
    return StoredPage(
        ProjectName(row.name),
        row.document,
        row.files,
        row.etag,
        row.last_modified,
        row.serial,
        row.fetched_at,
        row.checked_at,
    )


def find_page(connection: Connection, index: IndexRecord, name: ProjectName) -> StoredPage | None:
    row = connection.execute(
        select(upstream_pages).where(
            upstream_pages.c.index_id == index.id, upstream_pages.c.name == name
        )
    ).first()
    return _page(row) if row else None


def find_checked_at(
    connection: Connection, index: IndexRecord, name: ProjectName
) -> datetime | None:
    """When the upstream last confirmed the page (None: no page kept); a cheap look."""
    value: datetime | None = connection.execute(
        select(upstream_pages.c.checked_at).where(
            upstream_pages.c.index_id == index.id, upstream_pages.c.name == name
        )
    ).scalar()
    return value


def save_page(connection: Connection, index: IndexRecord, page: StoredPage) -> None:
    values = {
        "document": page.document,
        "files": page.files,
        "etag": page.etag,
        "last_modified": page.last_modified,
        "serial": page.serial,
        "fetched_at": page.fetched_at,
        "checked_at": page.checked_at,
    }
    statement = conflict_insert(connection, upstream_pages).values(
        index_id=index.id, name=page.name, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=["index_id", "name"], set_=values)
    )


def mark_checked(
    connection: Connection, index: IndexRecord, name: ProjectName, when: datetime
) -> None:
    connection.execute(
        update(upstream_pages)
        .where(upstream_pages.c.index_id == index.id, upstream_pages.c.name == name)
        .values(checked_at=when)
    )


def forget_page(connection: Connection, index: IndexRecord, name: ProjectName) -> bool:
    result = connection.execute(
        delete(upstream_pages).where(
            upstream_pages.c.index_id == index.id, upstream_pages.c.name == name
        )
    )
    return bool(result.rowcount)


def list_pages(connection: Connection, index: IndexRecord) -> list[tuple[ProjectName, int]]:
    rows = connection.execute(
        select(upstream_pages.c.name, upstream_pages.c.serial)
        .where(upstream_pages.c.index_id == index.id)
        .order_by(upstream_pages.c.name)
    )
    return [(ProjectName(r.name), r.serial or 0) for r in rows]


# -- what was learnt per file -----------------------------------------------------------------


def _facts(row: Row[Any]) -> FileFacts:
    return FileFacts(row.filename, row.sha256, row.size, row.metadata_sha256, row.metadata_size)


def find_facts(
    connection: Connection, index: IndexRecord, project: ProjectName
) -> dict[str, FileFacts]:
    rows = connection.execute(
        select(upstream_file_facts).where(
            upstream_file_facts.c.index_id == index.id,
            upstream_file_facts.c.project == project,
        )
    )
    return {row.filename: _facts(row) for row in rows}


def save_facts(
    connection: Connection, index: IndexRecord, project: ProjectName, facts: FileFacts
) -> FileFacts:
    """Add what was learnt to what is known about the same bytes (facts about other bytes of
    that filename are replaced); returns the facts now kept."""
    row = connection.execute(
        select(upstream_file_facts).where(
            upstream_file_facts.c.index_id == index.id,
            upstream_file_facts.c.filename == facts.filename,
        )
    ).first()
    known = _facts(row) if row is not None and row.sha256 == facts.sha256 else FileFacts("", "")
    merged = FileFacts(
        facts.filename,
        facts.sha256,
        facts.size if facts.size is not None else known.size,
        facts.metadata_sha256 or known.metadata_sha256,
        facts.metadata_size if facts.metadata_size is not None else known.metadata_size,
    )
    values = {
        "project": project,
        "sha256": merged.sha256,
        "size": merged.size,
        "metadata_sha256": merged.metadata_sha256,
        "metadata_size": merged.metadata_size,
    }
    statement = conflict_insert(connection, upstream_file_facts).values(
        index_id=index.id, filename=facts.filename, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=["index_id", "filename"], set_=values)
    )
    return merged


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
    statement = conflict_insert(connection, cached_files).values(
        index_id=index.id, sha256=sha256, size=size, created_at=when, last_access=when
    )
    connection.execute(statement.on_conflict_do_nothing(index_elements=["index_id", "sha256"]))


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
