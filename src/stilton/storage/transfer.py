"""Moving an installation to other storage (``stilton migrate-storage``): a single machine's
SQLite and directory to PostgreSQL and a bucket, say. Blobs go first, each hashed on the way
out and read back and hashed again once stored; only then are the rows copied, table by table
with their ids, into a migrated, empty target. A move cut short leaves only objects no row
names, and can be run again."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, func, insert, select, text

from stilton.core.errors import InvalidInput, StorageError
from stilton.storage.blobs import BlobStore
from stilton.storage.consistency import referenced_blobs
from stilton.storage.database import Database
from stilton.storage.schema import metadata

logger = logging.getLogger("stilton.transfer")
ROWS_PER_BATCH = 1000
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Moved:
    blobs: int
    rows: int


def _digest_of(blobs: BlobStore, sha256: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in blobs.iter_range(sha256, 0, size - 1) if size else ():
        digest.update(chunk)
    return digest.hexdigest()


def copy_blob(source: BlobStore, target: BlobStore, sha256: str, size: int) -> None:
    """One blob, verified on the way out (its digest) and once stored (read back)."""
    if target.stat(sha256) == size and _digest_of(target, sha256, size) == sha256:
        return  # a run cut short had copied it
    spool = target.open_spool()
    try:
        digest = hashlib.sha256()
        for chunk in source.iter_range(sha256, 0, size - 1) if size else ():
            digest.update(chunk)
            spool.write(chunk)
        if digest.hexdigest() != sha256:
            raise StorageError(f"Blob {sha256} in the source does not match its digest.")
        spool.sync()
        target.put_spooled(spool, sha256)
    except BaseException:
        spool.discard()
        raise
    if _digest_of(target, sha256, size) != sha256:
        raise StorageError(f"Blob {sha256} was stored, but reads back different bytes.")


def _ensure_empty(connection: Connection) -> None:
    for table in metadata.sorted_tables:
        if connection.execute(select(func.count()).select_from(table)).scalar():
            raise InvalidInput(
                f"The target database already holds data (table {table.name}): move into an"
                " empty database."
            )


def _copy_rows(source: Connection, target: Connection, progress: Progress) -> int:
    copied = 0
    for table in metadata.sorted_tables:
        rows = [dict(row._mapping) for row in source.execute(select(table))]
        for start in range(0, len(rows), ROWS_PER_BATCH):
            target.execute(insert(table), rows[start : start + ROWS_PER_BATCH])
        if rows and target.dialect.name == "postgresql" and _has_serial_id(table.name):
            # Rows came with their ids: the sequence goes on after the highest.
            target.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table.name}))"
                )
            )
        progress(f"{table.name}: {len(rows)} row(s)")
        copied += len(rows)
    return copied


def _has_serial_id(name: str) -> bool:
    column = metadata.tables[name].c.get("id")
    return column is not None and isinstance(column.type, Integer) and column.primary_key


def move_storage(
    source_db: Database,
    source_blobs: BlobStore,
    target_db: Database,
    target_blobs: BlobStore,
    progress: Progress,
) -> Moved:
    """Copy everything from the source to the (migrated, empty) target. The source must not
    change meanwhile: stop its servers first."""
    target_db.migrate()
    with target_db.connect() as connection:
        _ensure_empty(connection)
    with source_db.connect() as connection:
        needed = referenced_blobs(connection)
    for number, (sha256, size) in enumerate(sorted(needed.items()), 1):
        stored = source_blobs.stat(sha256)
        if stored != size:
            found = "is missing" if stored is None else f"has {stored} bytes, not {size}"
            raise StorageError(
                f"Blob {sha256} {found} in the source: run 'stilton check-storage' there."
            )
        copy_blob(source_blobs, target_blobs, sha256, size)
        if number % 100 == 0 or number == len(needed):
            progress(f"blobs: {number}/{len(needed)} copied and verified")
    with source_db.connect() as source, target_db.begin() as target:
        rows = _copy_rows(source, target, progress)
    return Moved(len(needed), rows)
