"""Spool files: temporary files in the blob store's ``tmp/`` directory, where uploads and
downloads are written before they are moved into place.

Each is created under an exclusive ``flock`` held until it is moved or discarded. Servers'
workers and CLI commands share the directory, so a starting process removes only the spool files
no live process holds: a crash's leftovers (the kernel drops a dead process's locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from stilton.storage.disk import disk_error

SUFFIX = ".part"
logger = logging.getLogger("stilton.storage")


class SpoolFile:
    """An open, locked spool file. ``close()`` ends the lock; ``discard()`` also removes it."""

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path = path
        self._stream = stream

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def write(self, chunk: bytes) -> None:
        try:
            self._stream.write(chunk)
        except OSError as exc:
            raise disk_error(exc, self.path.parent, "write a spool file") from exc

    def sync(self) -> None:
        """Flush and fsync: the bytes are on disk before the file is moved into place."""
        try:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as exc:
            raise disk_error(exc, self.path.parent, "write a spool file") from exc

    def close(self) -> None:
        if not self._stream.closed:
            # Buffered bytes a full disk refused must not be flushed again on close.
            with contextlib.suppress(OSError):
                self._stream.close()

    def discard(self) -> None:
        """Remove the file (if it was not moved into place) and end the lock."""
        self.path.unlink(missing_ok=True)
        self.close()


def open_spool_file(directory: Path) -> SpoolFile:
    """A new spool file in ``directory``, created and locked by this process."""
    while True:
        path = directory / f"{uuid.uuid4().hex}{SUFFIX}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise disk_error(exc, directory, "create a spool file") from exc
        fcntl.flock(fd, fcntl.LOCK_EX)
        # A sweep between the create and the lock may have removed the file: take another name.
        if os.fstat(fd).st_nlink > 0:
            return SpoolFile(path, os.fdopen(fd, "wb"))
        os.close(fd)


def _remove_if_abandoned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # moved into place or discarded meanwhile
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live process holds it
        # Holding the lock, the file can no longer change hands: if the name is still this
        # file's (not moved into place, not replaced), it is abandoned.
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return False
        except FileNotFoundError:
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _is_abandoned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing ends a lock this process took
    return True


def find_abandoned_spool_files(directory: Path) -> list[Path]:
    """The spool files no live process holds, left where they are."""
    return [path for path in sorted(directory.glob(f"*{SUFFIX}")) if _is_abandoned(path)]


def sweep_spool_files(directory: Path) -> list[Path]:
    """Remove the spool files no live process holds; returns what was removed."""
    removed = [path for path in sorted(directory.glob(f"*{SUFFIX}")) if _remove_if_abandoned(path)]
    if removed:
        logger.info("removed %d spool file(s) left in %s by a crash", len(removed), directory)
    return removed
