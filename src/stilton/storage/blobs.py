"""Content-addressed blob store: bytes kept under their sha256, shared across indexes.

Writers spool to a temporary file inside the store, fsync it, check its digest, and only then
move it into place (DESIGN.md, "Data safety"); a crash leaves at most an orphan in ``tmp/``,
removed when the store is next opened (``sweep_spool``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import obstore
from obstore.store import LocalStore

from stilton.core.errors import StorageError
from stilton.storage.disk import disk_error
from stilton.storage.spool_files import SpoolFile, open_spool_file, sweep_spool_files

CHUNK = 256 * 1024


def blob_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


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

    def local_path(self, sha256: str) -> Path | None:
        """The file's path where the server can send it itself (pathsend), else None."""

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive."""

    def read(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> None: ...

    def check(self) -> None:
        """Raise StorageError when the store cannot be reached."""


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

    def local_path(self, sha256: str) -> Path | None:
        return self.root / blob_key(sha256)

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
