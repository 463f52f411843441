"""Spool files left by a crash are removed when a runtime opens; spool files a live process
holds (another process's, or this one's) are never touched. Disk errors are translated once."""

from __future__ import annotations

import errno
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stilton.core.errors import InsufficientStorage, StorageError
from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.storage.blobs import LocalBlobStore
from stilton.storage.disk import disk_error
from tests.support.server import CLOSED_UPSTREAM

# Another process that opens a spool file the way an upload does, says where, and holds it
# until its stdin closes.
HOLDER = """
import sys
from pathlib import Path
from stilton.storage.blobs import LocalBlobStore
spool = LocalBlobStore(Path(sys.argv[1])).open_spool()
spool.write(b"half an upload")
spool.sync()
print(spool.path, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {}, {"data_dir": tmp_path / "data", "default_upstream": CLOSED_UPSTREAM}
    )


@pytest.fixture
def spool_dir(settings: Settings) -> Path:
    open_runtime(settings).close()
    return settings.blob_dir / "tmp"


@pytest.fixture
def holder(settings: Settings, spool_dir: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.blob_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        yield process, Path(process.stdout.readline().strip())
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def restart(settings: Settings) -> None:
    open_runtime(settings).close()


def test_a_crash_leftover_is_removed_at_start(settings: Settings, spool_dir: Path) -> None:
    leftover = spool_dir / "0123456789abcdef.part"
    leftover.write_bytes(b"half an upload, its process long gone")
    restart(settings)
    assert not leftover.exists()


def test_a_spool_file_another_process_holds_survives_a_start(
    settings: Settings, holder: tuple[subprocess.Popen[str], Path]
) -> None:
    process, live = holder
    restart(settings)
    assert live.read_bytes() == b"half an upload"
    assert process.stdin is not None
    process.stdin.close()  # the holder ends as a crash would: its lock goes with it
    process.wait(timeout=30)
    restart(settings)
    assert not live.exists()


def test_a_spool_file_this_process_holds_survives_a_start(
    settings: Settings, spool_dir: Path
) -> None:
    spool = LocalBlobStore(settings.blob_dir).open_spool()
    try:
        restart(settings)
        assert spool.path.exists()
    finally:
        spool.discard()
    assert list(spool_dir.iterdir()) == []


def test_a_spool_file_moved_into_place_is_released(settings: Settings, spool_dir: Path) -> None:
    store = LocalBlobStore(settings.blob_dir)
    sha256 = hashlib.sha256(b"kept").hexdigest()
    store.put_bytes(b"kept", sha256)
    assert store.read(sha256) == b"kept"
    assert list(spool_dir.iterdir()) == []
    restart(settings)
    assert store.read(sha256) == b"kept"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (errno.ENOSPC, InsufficientStorage),
        (errno.EDQUOT, InsufficientStorage),
        (errno.EACCES, StorageError),
        (errno.EIO, StorageError),
    ],
)
def test_disk_errors_are_translated_by_their_errno(code: int, error: type[StorageError]) -> None:
    translated = disk_error(OSError(code, "a disk problem"), Path("/srv/stilton"), "write")
    assert type(translated) is error
    assert "/srv/stilton" in translated.message
