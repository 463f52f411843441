"""A failing disk as Stilton reports it: an ``OSError`` met at a storage seam is translated
there, once; a full disk or an exhausted quota becomes ``InsufficientStorage``."""

from __future__ import annotations

import errno
from pathlib import Path

from stilton.core.errors import InsufficientStorage, StorageError

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in DISK_FULL


def disk_error(exc: OSError, location: Path, doing: str) -> StorageError:
    """The error to raise (``from exc``) for ``exc``, met while ``doing`` in ``location``."""
    if is_disk_full(exc):
        return InsufficientStorage(f"the data directory ({location})")
    return StorageError(f"Could not {doing} in {location}: {exc.strerror or exc}.")
