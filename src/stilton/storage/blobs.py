"""Content-addressed blob store: bytes kept under their sha256, shared across indexes.

Writers spool to a temporary file, fsync it, check its digest, and only then move it into place
(DESIGN.md, "Data safety"); a crash leaves at most an orphan spool file, removed when the store
is next opened (``sweep_spool``). How a stored file reaches a client is the store's decision,
a ``Delivery``: a local path the server sends itself, a stream, or a presigned URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import obstore
from obstore.store import LocalStore

from stilton.core.errors import StorageError
from stilton.storage.disk import disk_error
from stilton.storage.spool_files import (
    SpoolFile,
    find_abandoned_spool_files,
    open_spool_file,
    sweep_spool_files,
)

CHUNK = 256 * 1024
BLOB_PREFIX = "sha256/"
HELD_SUFFIX = ".gc"  # a blob a garbage collection has taken out of reach while it decides


def blob_key(sha256: str) -> str:
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


@dataclass(frozen=True, slots=True)
class SendPath:
    """A local file the server sends itself (ASGI pathsend)."""

    path: Path


@dataclass(frozen=True, slots=True)
class StreamBlob:
    """Bytes read from the store and passed on by Stilton (``iter_range``)."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class RedirectTo:
    """A short-lived presigned URL the client is redirected to (it carries a signature, so it
    is kept out of reprs)."""

    url: str = field(repr=False)


Delivery = SendPath | StreamBlob | RedirectTo


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """A stored blob as a garbage collection sees it: its size and when it was last written
    (a writer always writes a blob anew before a row names it)."""

    sha256: str
    size: int
    written: datetime  # UTC


class BlobStore(Protocol):
    """What indexes need of a blob store."""

    def open_spool(self) -> SpoolFile:
        """A new temporary file on the store's own filesystem, for streaming writes."""

    def put_spooled(self, spool: SpoolFile, sha256: str) -> None:
        """Move a fully written, fsynced and verified spool file into place as ``sha256``."""

    def sweep_spool(self) -> list[Path]:
        """Remove spool files no live process holds (a crash's leftovers)."""

    def put_bytes(self, data: bytes, sha256: str) -> None: ...

    def exists(self, sha256: str) -> bool: ...

    def stat(self, sha256: str) -> int | None:
        """The stored size, or None when the blob is missing."""

    def still_stored(self, sha256: str) -> bool:
        """A cheap check for a lookup cached in memory: exact where it costs no request
        (a local file), else True (a missing object is found when it is read)."""

    def delivery(self, sha256: str, size: int) -> Delivery:
        """How the whole stored file reaches a client."""

    def open_reader(self, sha256: str, size: int) -> BinaryIO:
        """A seekable file over the blob (reading a cached wheel's metadata)."""

    def list_blobs(self) -> Iterator[tuple[str, int]]:
        """Every stored blob's sha256 and size."""

    def list_entries(self) -> Iterator[BlobEntry]:
        """Every stored blob with its size and when it was last written."""

    def find_abandoned_spool(self) -> list[Path]:
        """Spool files no live process holds (what ``sweep_spool`` would remove)."""

    def delete_unused(
        self, sha256: str, written_before: datetime, unused: Callable[[], bool]
    ) -> bool:
        """Delete the blob only if it was last written before ``written_before`` and
        ``unused()``, asked right before, still says no row names it; True when deleted."""

    def restore_held(self) -> list[str]:
        """Put back what a ``delete_unused`` cut short (a crash) had taken out of reach."""

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive."""

    def read(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> None: ...

    def check(self) -> None:
        """Raise StorageError when the store cannot be reached."""


def _written(mtime: float) -> datetime:
    return datetime.fromtimestamp(mtime, UTC)


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class LocalBlobStore:
    """Blobs in a local directory, through obstore's LocalStore."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool_dir = root / "tmp"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._store = LocalStore(prefix=str(root), mkdir=True)

    def open_spool(self) -> SpoolFile:
        return open_spool_file(self.spool_dir)

    def sweep_spool(self) -> list[Path]:
        return sweep_spool_files(self.spool_dir)

    def find_abandoned_spool(self) -> list[Path]:
        return find_abandoned_spool_files(self.spool_dir)

    def put_spooled(self, spool: SpoolFile, sha256: str) -> None:
        key = blob_key(sha256)
        try:
            (self.root / key).parent.mkdir(parents=True, exist_ok=True)
            obstore.rename(self._store, str(spool.path.relative_to(self.root)), key)
            fsync_directory((self.root / key).parent)
        except OSError as exc:
            raise disk_error(exc, self.root, f"store blob {sha256}") from exc
        spool.close()

    def put_bytes(self, data: bytes, sha256: str) -> None:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"Refusing to store bytes under the wrong digest {sha256}.")
        spool = self.open_spool()
        try:
            spool.write(data)
            spool.sync()
            self.put_spooled(spool, sha256)
        except BaseException:
            spool.discard()
            raise

    def exists(self, sha256: str) -> bool:
        try:
            obstore.head(self._store, blob_key(sha256))
        except FileNotFoundError:
            return False
        return True

    def stat(self, sha256: str) -> int | None:
        try:
            return (self.root / blob_key(sha256)).stat().st_size
        except FileNotFoundError:
            return None

    def still_stored(self, sha256: str) -> bool:
        return (self.root / blob_key(sha256)).exists()

    def delivery(self, sha256: str, size: int) -> Delivery:
        return SendPath(self.root / blob_key(sha256))

    def open_reader(self, sha256: str, size: int) -> BinaryIO:
        try:
            return (self.root / blob_key(sha256)).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"Blob {sha256} is missing from the store.") from exc

    def list_blobs(self) -> Iterator[tuple[str, int]]:
        for path in sorted((self.root / BLOB_PREFIX).rglob("*")):
            if path.is_file() and len(path.name) == 64:
                yield path.name, path.stat().st_size

    def list_entries(self) -> Iterator[BlobEntry]:
        for path in sorted((self.root / BLOB_PREFIX).rglob("*")):
            if len(path.name) == 64 and path.is_file():
                found = path.stat()
                yield BlobEntry(path.name, found.st_size, _written(found.st_mtime))

    def delete_unused(
        self, sha256: str, written_before: datetime, unused: Callable[[], bool]
    ) -> bool:
        """The blob is first renamed out of reach (atomically): a writer putting the same bytes
        meanwhile puts a new file, which stays. The taken file is judged (when it was written,
        whether a row names it now) and removed, or linked back if its name is still free."""
        path = self.root / blob_key(sha256)
        held = self.spool_dir / f"{sha256}.{uuid.uuid4().hex}{HELD_SUFFIX}"
        try:
            os.rename(path, held)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise disk_error(exc, self.root, f"remove blob {sha256}") from exc
        try:
            if _written(held.stat().st_mtime) < written_before and unused():
                held.unlink()
                return True
        except BaseException:
            self._put_back(held, path)
            raise
        self._put_back(held, path)
        return False

    @staticmethod
    def _put_back(held: Path, path: Path) -> None:
        # A writer that put the same bytes there meanwhile keeps its newer file.
        with contextlib.suppress(FileExistsError):
            os.link(held, path)
        held.unlink()

    def restore_held(self) -> list[str]:
        """Put back the blobs a garbage collection that was cut short had taken (their names
        are free, or hold the same bytes again); returns their digests."""
        restored = []
        for held in sorted(self.spool_dir.glob(f"*{HELD_SUFFIX}")):
            sha256 = held.name.split(".", 1)[0]
            if len(sha256) == 64:
                path = self.root / blob_key(sha256)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._put_back(held, path)
                restored.append(sha256)
        return restored

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        offset = start
        while offset <= end:
            upper = min(offset + CHUNK, end + 1)
            chunk = bytes(obstore.get_range(self._store, blob_key(sha256), start=offset, end=upper))
            if not chunk:
                return
            yield chunk
            offset += len(chunk)

    def read(self, sha256: str) -> bytes:
        try:
            return bytes(obstore.get(self._store, blob_key(sha256)).bytes())
        except FileNotFoundError as exc:
            raise StorageError(f"Blob {sha256} is missing from the store.") from exc

    def delete(self, sha256: str) -> None:
        try:
            obstore.delete(self._store, blob_key(sha256))
        except FileNotFoundError:
            return

    def check(self) -> None:
        probe = self.spool_dir / f"ready-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise disk_error(exc, self.root, "write to the blob store") from exc
