"""The consistency of a database with its blob store: every stored file a row names has its
object, of the size the row says. Objects no row names (orphans, which a crash between a put
and its commit may leave) are counted apart: harmless, removed by a garbage collection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select

from stilton.storage.blobs import BlobStore
from stilton.storage.schema import cached_files, files, upstream_file_facts


@dataclass(frozen=True, slots=True)
class Consistency:
    checked: int  # blobs named by rows
    problems: tuple[str, ...]  # rows without their object, or with one of another size
    orphans: tuple[str, ...]  # objects no row names

    @property
    def ok(self) -> bool:
        return not self.problems


def referenced_blobs(connection: Connection) -> dict[str, int]:
    """Every blob a row needs, with its size: hosted files and their metadata, a proxy's
    kept files and the metadata it learnt."""
    needed: dict[str, int] = {}
    hosted = select(files.c.sha256, files.c.size, files.c.metadata_sha256, files.c.metadata_size)
    for sha256, size, metadata_sha256, metadata_size in connection.execute(hosted):
        needed[sha256] = int(size)
        if metadata_sha256 and metadata_size is not None:
            needed[metadata_sha256] = int(metadata_size)
    for sha256, size in connection.execute(select(cached_files.c.sha256, cached_files.c.size)):
        needed[sha256] = int(size)
    facts = select(upstream_file_facts.c.metadata_sha256, upstream_file_facts.c.metadata_size)
    learnt = facts.where(upstream_file_facts.c.metadata_sha256.is_not(None))
    for sha256, size in connection.execute(learnt):
        if size is not None:
            needed.setdefault(sha256, int(size))
    return needed


def _differences(needed: dict[str, int], stored: dict[str, int]) -> Iterator[str]:
    for sha256, size in sorted(needed.items()):
        if sha256 not in stored:
            yield f"blob {sha256} is missing ({size} bytes expected)"
        elif stored[sha256] != size:
            yield f"blob {sha256} has {stored[sha256]} bytes, not {size}"


def check_consistency(connection: Connection, blobs: BlobStore) -> Consistency:
    needed = referenced_blobs(connection)
    stored = dict(blobs.list_blobs())
    orphans = tuple(sorted(set(stored) - set(needed)))
    return Consistency(len(needed), tuple(_differences(needed, stored)), orphans)
