"""A backup directory (``stilton backup``): a marker saying what it is, the latest database
snapshot, every blob a snapshot named (by sha256, like the blob store), and a manifest.

::

    STILTON-BACKUP                      the marker, written first
    manifest.json                       the latest complete backup, replaced atomically
    database/<UTC time>.sqlite3         the snapshot the manifest names
    blobs/sha256/ab/cd/<sha256>         blobs, kept across backups (incremental)

A backup cut short leaves the previous manifest and its snapshot as they were, and blobs that
are merely extra: the directory always holds one complete backup, the last one finished.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from stilton.core.errors import Conflict, InvalidInput
from stilton.storage.blobs import blob_key, fsync_directory

MARKER = "STILTON-BACKUP"
MANIFEST = "manifest.json"
DATABASES = "database"
FORMAT = 1
CHUNK = 1024 * 1024
MARKER_TEXT = (
    "A Stilton backup directory: restore it with 'stilton restore DIR --data-dir NEW'.\n"
    "manifest.json names the database snapshot and every file, with their sha256.\n"
)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A complete backup: its snapshot (path relative to the directory, digest, size), the
    schema revision the snapshot is at, and every blob it names with its size."""

    created: datetime
    schema_revision: str
    database: str
    database_sha256: str
    database_size: int
    blobs: dict[str, int]

    def render(self) -> bytes:
        document = {
            "format": FORMAT,
            "created": self.created.isoformat(),
            "schema_revision": self.schema_revision,
            "database": {
                "path": self.database,
                "sha256": self.database_sha256,
                "size": self.database_size,
            },
            "blobs": dict(sorted(self.blobs.items())),
        }
        return json.dumps(document, indent=1).encode() + b"\n"

    @classmethod
    def parse(cls, data: bytes, where: Path) -> Manifest:
        try:
            document: Any = json.loads(data)
            if document.get("format") != FORMAT:
                found = document.get("format")
                raise InvalidInput(f"{where} is of format {found!r}, not {FORMAT}.")
            database = document["database"]
            blobs = {str(sha256): int(size) for sha256, size in document["blobs"].items()}
            manifest = cls(
                datetime.fromisoformat(document["created"]),
                str(document["schema_revision"]),
                str(database["path"]),
                str(database["sha256"]),
                int(database["size"]),
                blobs,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{where} is not a backup manifest Stilton can read.") from exc
        if any(len(sha256) != 64 or not _is_hex(sha256) for sha256 in manifest.blobs):
            raise InvalidInput(f"{where} names a blob by something other than a sha256.")
        if Path(manifest.database).is_absolute() or ".." in Path(manifest.database).parts:
            raise InvalidInput(f"{where} names a database outside the backup directory.")
        return manifest


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)


class BackupDir:
    """Where a backup is written or read."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / blob_key(sha256)

    @property
    def spool_dir(self) -> Path:
        return self.root / "blobs" / "tmp"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def stored_size(self, sha256: str) -> int | None:
        try:
            return self.blob_path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def read_manifest(self) -> Manifest | None:
        try:
            data = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return None
        return Manifest.parse(data, self.manifest_path)

    def write_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest atomically: the new backup is complete from this moment."""
        partial = self.root / f"{MANIFEST}.partial"
        with partial.open("wb") as stream:
            stream.write(manifest.render())
            stream.flush()
            os.fsync(stream.fileno())
        partial.replace(self.manifest_path)
        fsync_directory(self.root)

    def snapshots(self) -> list[Path]:
        return sorted((self.root / DATABASES).glob("*.sqlite3*"))

    @contextmanager
    def writing(self) -> Iterator[BackupDir]:
        """Claim the directory for a backup: new, empty, or a backup already (then locked
        against another backup writing into it at once)."""
        if self.root.exists() and not (self.root / MARKER).exists():
            if not self.root.is_dir():
                raise InvalidInput(f"{self.root} is not a directory.")
            if any(self.root.iterdir()):
                raise InvalidInput(
                    f"{self.root} is not empty and is not a Stilton backup: back up into a new"
                    " or empty directory, or into an earlier backup (which is then updated)."
                )
        # The database holds password and token hashes and the session secret: only the
        # owner may read a new backup directory.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (self.root / DATABASES, self.spool_dir):
            directory.mkdir(parents=True, exist_ok=True)
        marker = self.root / MARKER
        if not marker.exists():
            marker.write_text(MARKER_TEXT)
        with marker.open("rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(f"Another backup is writing into {self.root}.") from None
            for leftover in self.spool_dir.glob("*.part"):  # of a backup cut short
                leftover.unlink(missing_ok=True)
            yield self


def write_verified(source: BinaryIO, sha256: str, destination: Path, spool_dir: Path) -> bool:
    """Copy ``source`` to ``destination`` through a temporary file, fsynced, and move it into
    place only if its bytes hash to ``sha256``; False (and nothing written) when they do not."""
    partial = spool_dir / f"{destination.name}.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as stream:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        if digest.hexdigest() != sha256:
            partial.unlink()
            return False
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.replace(destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_directory(destination.parent)
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
