"""Restoring a backup (``stilton restore DIR --data-dir NEW``) into a new data directory.

Everything is built beside NEW under a temporary name: the snapshot and every blob the
manifest names, each hashed on the way and refused (naming the file) when it does not match.
The copy is then checked as a whole (SQLite's integrity check, the schema revision, every
blob a row names present with its size) and only then renamed to NEW, so a restore that
fails leaves nothing behind, and one never writes into an existing data directory.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from stilton.core.errors import InvalidInput
from stilton.storage.backup_dir import MANIFEST, BackupDir, Manifest, write_verified
from stilton.storage.blobs import blob_key, fsync_directory
from stilton.storage.consistency import referenced_blobs
from stilton.storage.disk import disk_error

THREADS = 4
DATABASE = "stilton.sqlite3"  # Settings.sqlite_path's name in a data directory
SHOWN = 10  # damaged files named one by one


@dataclass(frozen=True, slots=True)
class RestoreReport:
    manifest: Manifest
    blobs: int
    bytes: int


def _check_target(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise InvalidInput(
            f"{data_dir} exists and is not empty: restore into a new data directory (a restore"
            " never writes over one)."
        )


def _read_manifest(source: Path) -> Manifest:
    manifest = BackupDir(source).read_manifest()
    if manifest is None:
        raise InvalidInput(
            f"{source} holds no complete Stilton backup (no {MANIFEST}): nothing to restore."
        )
    return manifest


class _Restorer:
    def __init__(self, source: BackupDir, staging: Path, progress: Callable[[int], None]) -> None:
        self.source = source
        self.staging = staging
        self.spool_dir = staging / "blobs" / "tmp"
        self.progress = progress

    def copy(self, sha256: str, origin: Path, destination: Path) -> str | None:
        """A problem naming ``origin``, or None when it was copied and matched."""
        try:
            with origin.open("rb") as stream:
                matched = write_verified(stream, sha256, destination, self.spool_dir)
        except FileNotFoundError:
            return f"{origin} is missing"
        if not matched:
            return f"{origin} is damaged: its bytes do not hash to {sha256}"
        self.progress(destination.stat().st_size)
        return None

    def blob(self, item: tuple[str, int]) -> str | None:
        sha256, _size = item
        origin = self.source.blob_path(sha256)
        return self.copy(sha256, origin, self.staging / "blobs" / blob_key(sha256))


def _check_database(path: Path, manifest: Manifest) -> None:
    """The restored snapshot is sound, at the manifest's revision, and names only blobs the
    backup holds, of their sizes."""
    checker = sqlite3.connect(path)
    try:
        (verdict,) = checker.execute("PRAGMA integrity_check").fetchone()
        revision = checker.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise InvalidInput(f"The database in the backup cannot be read: {exc}.") from exc
    finally:
        checker.close()
    if verdict != "ok":
        raise InvalidInput(f"The database in the backup is damaged: {verdict}.")
    if revision is None or revision[0] != manifest.schema_revision:
        raise InvalidInput("The database in the backup is not at the manifest's schema revision.")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            needed = referenced_blobs(connection)
    finally:
        engine.dispose()
    absent = sorted(s for s, n in needed.items() if manifest.blobs.get(s) != n)
    if absent:
        raise InvalidInput(
            f"The backup's database names {len(absent)} file(s) its manifest does not hold"
            f" (e.g. {absent[0]})."
        )


def restore_backup(
    source: Path,
    data_dir: Path,
    started: Callable[[int], None] = lambda _bytes: None,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> RestoreReport:
    """Rebuild ``data_dir`` (new, or empty) from the backup in ``source``."""
    _check_target(data_dir)
    manifest = _read_manifest(source)
    started(manifest.database_size + sum(manifest.blobs.values()))
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.parent / f".{data_dir.name}.restoring-{uuid.uuid4().hex[:8]}"
    restorer = _Restorer(BackupDir(source), staging, progress)
    try:
        restorer.spool_dir.mkdir(parents=True)
        database = staging / DATABASE
        problem = restorer.copy(manifest.database_sha256, source / manifest.database, database)
        if problem is not None:
            raise InvalidInput(f"Refusing to restore: {problem}.")
        with ThreadPoolExecutor(THREADS) as pool:
            problems = [p for p in pool.map(restorer.blob, manifest.blobs.items()) if p]
        if problems:
            named = "; ".join(sorted(problems)[:SHOWN])
            more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
            raise InvalidInput(f"Refusing to restore: {named}{more}.")
        _check_database(database, manifest)
        _check_target(data_dir)  # still free
        if data_dir.exists():
            data_dir.rmdir()
        staging.rename(data_dir)
        fsync_directory(data_dir.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise disk_error(exc, data_dir.parent, "restore") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreReport(manifest, len(manifest.blobs), sum(manifest.blobs.values()))
