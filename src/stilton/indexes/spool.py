"""Spooling: stream incoming bytes to a temporary file in the blob store, hashing as they pass.

The size limit is enforced while bytes arrive, so an oversized upload never fills the disk.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stilton.core.errors import FileTooLarge
from stilton.core.model import Digests
from stilton.storage.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """A fully written, fsynced temporary file and the digests of its bytes."""

    path: Path
    filename: str
    size: int
    digests: Digests

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class Spooler:
    """Receives chunks; ``finish()`` fsyncs and returns the SpooledFile."""

    def __init__(self, blobs: BlobStore, filename: str, max_size: int) -> None:
        self.filename = filename
        self.max_size = max_size
        self.path = blobs.new_spool_path()
        self._stream: BinaryIO = self.path.open("wb")
        self._size = 0
        self._sha256 = hashlib.sha256()
        self._blake2b = hashlib.blake2b(digest_size=32)
        self._md5 = hashlib.md5(usedforsecurity=False)

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.max_size:
            self.abort()
            raise FileTooLarge(self.max_size)
        self._stream.write(chunk)
        self._sha256.update(chunk)
        self._blake2b.update(chunk)
        self._md5.update(chunk)

    def finish(self) -> SpooledFile:
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        digests = Digests(
            self._sha256.hexdigest(), self._blake2b.hexdigest(), self._md5.hexdigest()
        )
        return SpooledFile(self.path, self.filename, self._size, digests)

    def abort(self) -> None:
        if not self._stream.closed:
            self._stream.close()
        self.path.unlink(missing_ok=True)


def spool_local_file(source: Path, blobs: BlobStore, max_size: int) -> SpooledFile:
    """Copy a file from disk into the spool (``stilton import``)."""
    spooler = Spooler(blobs, source.name, max_size)
    try:
        with source.open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                spooler.write(chunk)
    except BaseException:
        spooler.abort()
        raise
    return spooler.finish()
