"""Garbage collection (``stilton gc``): blobs no row names (orphans, which a crash between a
blob's put and its row's commit leaves) and spool files no live process holds.

It is safe while servers run. A writer always writes a blob anew before it commits the row
naming it, so an orphan written within the grace period may be an upload about to commit: it
is kept. An older one is deleted only after the rows are asked again, right before, by the blob
store's ``delete_unused`` (which on a directory first takes the file out of reach).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from stilton.storage import inventory
from stilton.storage.blobs import BlobEntry, BlobStore
from stilton.storage.database import Database

DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Garbage:
    """What a collection would remove, and what it leaves for now."""

    stored: int  # blobs in the store
    referenced: int  # digests the rows name
    orphans: tuple[BlobEntry, ...]  # unnamed and older than the grace period
    recent: tuple[BlobEntry, ...]  # unnamed, but written within it: perhaps an upload's
    spool_files: tuple[Path, ...]  # abandoned spool files
    spool_bytes: int

    @property
    def orphan_bytes(self) -> int:
        return sum(entry.size for entry in self.orphans)

    @property
    def empty(self) -> bool:
        return not self.orphans and not self.spool_files


@dataclass(frozen=True, slots=True)
class Collected:
    blobs: tuple[str, ...]  # deleted
    kept: tuple[str, ...]  # named by a row, or written again, by the time they were judged
    blob_bytes: int
    spool_files: tuple[Path, ...]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _unused(database: Database, sha256: str) -> bool:
    with database.connect() as connection:
        return not inventory.is_known_digest(connection, sha256)


def find_garbage(
    database: Database, blobs: BlobStore, grace: timedelta, now: datetime | None = None
) -> Garbage:
    """Blobs are listed after the rows are read, so a blob whose row commits in between is
    listed with a recent write time, never as an old orphan."""
    cutoff = (now or datetime.now(UTC)) - grace
    blobs.restore_held()
    with database.connect() as connection:
        known = inventory.known_digests(connection)
    stored = list(blobs.list_entries())
    unnamed = [entry for entry in stored if entry.sha256 not in known]
    spool = blobs.find_abandoned_spool()
    return Garbage(
        stored=len(stored),
        referenced=len(known),
        orphans=tuple(entry for entry in unnamed if entry.written < cutoff),
        recent=tuple(entry for entry in unnamed if entry.written >= cutoff),
        spool_files=tuple(spool),
        spool_bytes=sum(_size(path) for path in spool),
    )


def collect_garbage(
    database: Database,
    blobs: BlobStore,
    garbage: Garbage,
    grace: timedelta,
    now: datetime | None = None,
) -> Collected:
    """Delete what ``find_garbage`` found, judging each blob again as it goes."""
    cutoff = (now or datetime.now(UTC)) - grace

    deleted: list[BlobEntry] = []
    kept: list[str] = []
    for entry in garbage.orphans:
        if blobs.delete_unused(entry.sha256, cutoff, partial(_unused, database, entry.sha256)):
            deleted.append(entry)
        else:
            kept.append(entry.sha256)
    swept = blobs.sweep_spool() if garbage.spool_files else []
    return Collected(
        blobs=tuple(entry.sha256 for entry in deleted),
        kept=tuple(kept),
        blob_bytes=sum(entry.size for entry in deleted),
        spool_files=tuple(swept),
    )
