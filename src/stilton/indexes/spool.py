"""Spooling: stream incoming bytes to a temporary file in the blob store, hashing as they pass.

The size limit is enforced while bytes arrive, so an oversized upload never fills the disk. The
spool file stays locked (``storage.spool_files``) until it is moved into place or discarded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from stilton.core.errors import FileTooLarge, InvalidInput
from stilton.core.model import Digests
from stilton.storage.blobs import BlobStore
from stilton.storage.spool_files import SpoolFile


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """A fully written, fsynced temporary file and the digests of its bytes."""

    spool: SpoolFile
    filename: str
    size: int
    digests: Digests

    @property
    def path(self) -> Path:
        return self.spool.path

    def discard(self) -> None:
        self.spool.discard()


class Spooler:
    """Receives chunks; ``finish()`` fsyncs and returns the SpooledFile."""

    def __init__(
        self, blobs: BlobStore, filename: str, max_size: int, *, sha256_only: bool = False
    ) -> None:
        """``sha256_only``: a proxy's download needs no other digest (an upload's form sends
        blake2b and md5 as well, and the Warehouse JSON API shows them)."""
        self.filename = filename
        self.max_size = max_size
        self._spool = blobs.open_spool()
        self.path = self._spool.path
        self._size = 0
        self._sha256 = hashlib.sha256()
        self._others = (
            ()
            if sha256_only
            else (hashlib.blake2b(digest_size=32), hashlib.md5(usedforsecurity=False))
        )

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self._size

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.max_size:
            self.abort()
            raise FileTooLarge(self.max_size)
        try:
            self._spool.write(chunk)
        except BaseException:
            self.abort()
            raise
        self._sha256.update(chunk)
        for other in self._others:
            other.update(chunk)

    def finish(self) -> SpooledFile:
        try:
            self._spool.sync()
        except BaseException:
            self.abort()
            raise
        blake2b, md5 = [o.hexdigest() for o in self._others] if self._others else [None, None]
        digests = Digests(self._sha256.hexdigest(), blake2b, md5)
        return SpooledFile(self._spool, self.filename, self._size, digests)

    def abort(self) -> None:
        self._spool.discard()


def spool_local_file(source: Path, blobs: BlobStore, max_size: int) -> SpooledFile:
    """Copy a file from disk into the spool (``stilton import``)."""
    spooler = Spooler(blobs, source.name, max_size)
    try:
        with source.open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                spooler.write(chunk)
    except OSError as exc:  # the spool's own errors arrive translated: this is the source's
        spooler.abort()
        raise InvalidInput(f"Cannot read {source}: {exc.strerror or exc}.") from exc
    except BaseException:
        spooler.abort()
        raise
    return spooler.finish()
