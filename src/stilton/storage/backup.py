"""Making a backup (``stilton backup DIR``) of a single machine's SQLite database and blob
directory while its servers run.

The order is what makes it consistent: the database is copied first, in one step of SQLite's
online backup API (a read transaction: writers go on meanwhile), then every blob that snapshot
names. A row is committed only after its blob is in place and blobs never change, so each one
the snapshot names is there to copy; blobs written since are merely not in this backup. Blobs
already in DIR with their size are not copied again (incremental), the others are hashed on
the way and moved into place only if they match. The manifest, written last, makes the backup.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, select, text, update

from stilton.core.errors import StorageError
from stilton.storage.backup_dir import (
    DATABASES,
    BackupDir,
    Manifest,
    file_sha256,
    write_verified,
)
from stilton.storage.blobs import BlobStore
from stilton.storage.consistency import referenced_blobs
from stilton.storage.disk import disk_error
from stilton.storage.schema import cached_files, files, upstream_file_facts

THREADS = 4
BUSY_TIMEOUT = 30.0  # seconds the snapshot waits for a writer's lock on SQLite
Progress = Callable[[int], None]  # hears bytes copied


@dataclass(frozen=True, slots=True)
class BackupReport:
    manifest: Manifest
    copied: int  # blobs copied by this run
    copied_bytes: int
    present: int  # blobs DIR held already
    repaired: int  # of those, found damaged (``rehash``) and copied again
    dropped: tuple[str, ...]  # a proxy's cached blobs evicted since the snapshot: left out
    seconds: float

    @property
    def mib_per_second(self) -> float:
        done = self.copied_bytes + self.manifest.database_size
        return done / 2**20 / self.seconds if self.seconds else 0.0


def snapshot_database(sqlite_path: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, as one self-contained file."""
    if not sqlite_path.is_file():
        raise StorageError(f"There is no database at {sqlite_path}: nothing to back up.")
    try:
        source = sqlite3.connect(sqlite_path, timeout=BUSY_TIMEOUT)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # all pages in one step: one snapshot of the source
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise StorageError(f"Could not copy the database {sqlite_path}: {exc}") from exc


def _engine(path: Path) -> Engine:
    return create_engine(f"sqlite:///{path}")


def _needs(snapshot: Path) -> tuple[str, dict[str, int], set[str]]:
    """The snapshot's schema revision, every blob it names, and those a hosted file names
    (the others, a proxy's, may be had again from the upstream)."""
    engine = _engine(snapshot)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            needed = referenced_blobs(connection)
            hosted = {
                digest
                for row in connection.execute(select(files.c.sha256, files.c.metadata_sha256))
                for digest in row
                if digest
            }
    finally:
        engine.dispose()
    return str(revision), needed, hosted


def _drop(snapshot: Path, lost: set[str]) -> None:
    """A proxy's files evicted since the snapshot: the copy forgets them (they are fetched
    again when asked for), so that it names no blob the backup lacks."""
    engine = _engine(snapshot)
    try:
        with engine.begin() as connection:
            connection.execute(delete(cached_files).where(cached_files.c.sha256.in_(lost)))
            facts = upstream_file_facts.c
            connection.execute(
                update(upstream_file_facts)
                .where(facts.metadata_sha256.in_(lost))
                .values(metadata_sha256=None, metadata_size=None)
            )
    finally:
        engine.dispose()


class _Copier:
    """Copies blobs from the store into the backup directory, a few threads at once."""

    def __init__(self, blobs: BlobStore, directory: BackupDir, progress: Progress) -> None:
        self.blobs = blobs
        self.directory = directory
        self.progress = progress

    def copy(self, item: tuple[str, int]) -> bool:
        """False when the store no longer holds the blob."""
        sha256, size = item
        if self.blobs.stat(sha256) is None:
            return False
        with self.blobs.open_reader(sha256, size) as source:
            matched = write_verified(
                source, sha256, self.directory.blob_path(sha256), self.directory.spool_dir
            )
        if not matched:
            raise StorageError(
                f"Blob {sha256} in the store does not match its sha256: run 'stilton verify'."
            )
        self.progress(size)
        return True


def _damaged(directory: BackupDir, present: Iterable[str], pool: Executor) -> list[str]:
    """Blobs in DIR whose bytes no longer hash to their name."""
    ordered = sorted(present)
    digests = pool.map(lambda sha256: file_sha256(directory.blob_path(sha256)), ordered)
    return [sha256 for sha256, digest in zip(ordered, digests, strict=True) if digest != sha256]


@dataclass(frozen=True, slots=True)
class _Copied:
    copied: dict[str, int]  # sha256 to size, copied by this run
    repaired: int  # of them, found damaged in DIR
    lost: set[str]  # gone from the store since the snapshot


def _copy_blobs(
    blobs: BlobStore,
    directory: BackupDir,
    needed: dict[str, int],
    rehash: bool,
    started: Callable[[int], None],
    progress: Progress,
) -> _Copied:
    missing = {s: n for s, n in needed.items() if directory.stored_size(s) != n}
    copier = _Copier(blobs, directory, progress)
    with ThreadPoolExecutor(THREADS) as pool:
        damaged = _damaged(directory, needed.keys() - missing.keys(), pool) if rehash else []
        missing.update({sha256: needed[sha256] for sha256 in damaged})
        started(sum(missing.values()))
        done = dict(zip(missing, pool.map(copier.copy, missing.items()), strict=True))
    lost = {sha256 for sha256, present in done.items() if not present}
    copied = {sha256: size for sha256, size in missing.items() if sha256 not in lost}
    return _Copied(copied, len(damaged), lost)


def _forget_lost(snapshot: Path, lost: set[str], hosted: set[str]) -> None:
    if lost & hosted:
        raise StorageError(
            f"{len(lost & hosted)} file(s) the database names are missing from the blob"
            f" store (e.g. {min(lost & hosted)}): run 'stilton verify'."
        )
    if lost:
        _drop(snapshot, lost)


def make_backup(
    sqlite_path: Path,
    blobs: BlobStore,
    target: Path,
    started: Callable[[int], None] = lambda _bytes: None,
    progress: Progress = lambda _bytes: None,
    *,
    rehash: bool = False,
) -> BackupReport:
    """Back up into ``target`` (new, empty, or an earlier backup); ``started`` hears how many
    bytes are to be copied, ``progress`` each blob's as it is done. ``rehash``: blobs DIR
    holds already are hashed too, and copied again when damaged."""
    began = time.monotonic()
    created = datetime.now(UTC)
    try:
        with BackupDir(target).writing() as directory:
            partial = directory.root / DATABASES / f"{created:%Y%m%dT%H%M%S%fZ}.sqlite3.partial"
            try:
                snapshot_database(sqlite_path, partial)
                revision, needed, hosted = _needs(partial)
                done = _copy_blobs(blobs, directory, needed, rehash, started, progress)
                _forget_lost(partial, done.lost, hosted)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            manifest = _finish(directory, partial, created, revision, needed, done.lost)
    except OSError as exc:
        raise disk_error(exc, target, "back up") from exc
    return BackupReport(
        manifest,
        copied=len(done.copied),
        copied_bytes=sum(done.copied.values()),
        present=len(manifest.blobs) - len(done.copied) + done.repaired,
        repaired=done.repaired,
        dropped=tuple(sorted(done.lost)),
        seconds=time.monotonic() - began,
    )


def _finish(
    directory: BackupDir,
    partial: Path,
    created: datetime,
    revision: str,
    needed: dict[str, int],
    lost: set[str],
) -> Manifest:
    """Put the snapshot in place, write the manifest, then forget the earlier snapshot."""
    snapshot = partial.with_suffix("")
    partial.replace(snapshot)
    manifest = Manifest(
        created,
        revision,
        snapshot.relative_to(directory.root).as_posix(),
        file_sha256(snapshot),
        snapshot.stat().st_size,
        {sha256: size for sha256, size in needed.items() if sha256 not in lost},
    )
    directory.write_manifest(manifest)
    for earlier in directory.snapshots():
        if earlier != snapshot:
            earlier.unlink(missing_ok=True)
    return manifest
