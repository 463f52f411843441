"""``stilton verify``: every blob the database refers to is re-hashed and its size checked, so
that the database and the blob store are shown to agree (or where they do not). Blobs nobody
refers to are counted too: a crash's leftovers, harmless, listed as such.

Blobs are hashed by a few threads at once, in batches (hashlib releases the GIL on large
buffers); a blob several rows share is read once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from stilton.core.errors import StiltonError
from stilton.storage import catalog, inventory
from stilton.storage.blobs import BlobStore
from stilton.storage.database import Database
from stilton.storage.inventory import BlobReference

THREADS = 4
BATCH = 256  # blobs per task: a task per blob costs more than hashing a small one
CHUNK = 1024 * 1024


@dataclass
class VerifyReport:
    blobs: int = 0  # distinct blobs checked
    references: int = 0  # rows referring to them
    bytes: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)  # blobs no row refers to

    @property
    def files_per_second(self) -> float:
        return self.blobs / self.seconds if self.seconds else 0.0

    @property
    def mib_per_second(self) -> float:
        return self.bytes / 2**20 / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class BlobState:
    sha256: str | None  # None: missing
    size: int
    error: str | None = None


def hash_blob(blobs: BlobStore, sha256: str) -> BlobState:
    try:
        size = blobs.stat(sha256)
        if size is None:
            return BlobState(None, 0)
        digest, read = hashlib.sha256(), 0
        with blobs.open_reader(sha256, size) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                read += len(chunk)
        return BlobState(digest.hexdigest(), read)
    except FileNotFoundError:
        return BlobState(None, 0)
    except (OSError, StiltonError) as exc:
        return BlobState(None, 0, str(exc))


def _judge(reference: BlobReference, state: BlobState) -> str | None:
    where = f"{reference.index}: {reference.what}"
    if state.error is not None:
        return f"{where}: blob {reference.sha256} cannot be read ({state.error})"
    if state.sha256 is None:
        return f"{where}: blob {reference.sha256} is missing from the store"
    if state.sha256 != reference.sha256:
        return f"{where}: blob {reference.sha256} holds other bytes (sha256 {state.sha256})"
    if reference.size is not None and reference.size != state.size:
        return f"{where}: blob {reference.sha256} has {state.size} bytes, not {reference.size}"
    return None


def verify_store(
    database: Database,
    blobs: BlobStore,
    index: str | None = None,
    started: Callable[[int], None] = lambda _blobs: None,
    progress: Callable[[], None] = lambda: None,
) -> VerifyReport:
    """Check every blob of ``index`` (or of all); ``started`` hears how many there are,
    ``progress`` of each one checked."""
    began = time.monotonic()
    with database.connect() as connection:
        if index is not None:
            catalog.get_index(connection, index)  # NotFound for a name that is none
        references = list(inventory.blob_references(connection, index))
    by_blob: dict[str, list[BlobReference]] = {}
    for reference in references:
        by_blob.setdefault(reference.sha256, []).append(reference)
    report = VerifyReport(blobs=len(by_blob), references=len(references))
    started(report.blobs)

    def check(batch: list[str]) -> list[tuple[str, BlobState]]:
        return [(sha256, hash_blob(blobs, sha256)) for sha256 in batch]

    digests = sorted(by_blob)
    batches = [digests[i : i + BATCH] for i in range(0, len(digests), BATCH)]
    with ThreadPoolExecutor(THREADS) as pool:
        for checked in pool.map(check, batches):
            for sha256, state in checked:
                report.bytes += state.size
                for reference in by_blob[sha256]:
                    if (problem := _judge(reference, state)) is not None:
                        report.problems.append(problem)
                progress()
    if index is None:
        report.unreferenced = unreferenced(database, blobs)
    report.seconds = time.monotonic() - began
    return report


def unreferenced(database: Database, blobs: BlobStore) -> list[str]:
    """Blobs in the store that no row refers to (deleted files' rows included)."""
    with database.connect() as connection:
        known = inventory.known_digests(connection)
    return sorted(sha256 for sha256, _size in blobs.list_blobs() if sha256 not in known)
