"""A small tmpfs for tests that need a disk that really fills up (ENOSPC).

Mounting needs root (CAP_SYS_ADMIN); where it is not allowed, ``TmpfsUnavailable`` says why, so
the caller can skip. The mount is always undone, lazily if a file is still open on it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


class TmpfsUnavailable(RuntimeError):
    """A tmpfs cannot be mounted here; the message says why."""


@contextlib.contextmanager
def mounted_tmpfs(path: Path, size_bytes: int) -> Iterator[Path]:
    """``path`` with an empty tmpfs of ``size_bytes`` mounted on it, for the ``with`` block."""
    if os.geteuid() != 0:
        raise TmpfsUnavailable("mounting a tmpfs needs root; these tests run as a normal user")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise TmpfsUnavailable(f"mount -t tmpfs was refused: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        unmounted = subprocess.run(["umount", str(path)], capture_output=True, check=False)
        if unmounted.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=True)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its disk is full; returns the file."""
    filler = directory / "filler"
    block = b"\0" * 4096
    with filler.open("wb", buffering=0) as stream, contextlib.suppress(OSError):
        while True:
            stream.write(block)
    return filler
