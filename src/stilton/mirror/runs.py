"""Mirrors as the CLI and the server handle them: added, listed, and run one run at a time.

A run holds an exclusive ``flock`` on ``<data dir>/mirrors/<name>.lock`` for as long as it
lasts (the kernel drops it with a killed process), records when it started, and when it ends
records how it went. A run that was cut short shows as started and never finished, and the
next run simply continues: every file it stored stays stored.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from stilton.core.errors import Conflict, InvalidInput, StiltonError
from stilton.core.model import IndexKind
from stilton.core.names import IndexName
from stilton.indexes.hosted import HostedIndex
from stilton.mirror.config import MirrorConfig
from stilton.mirror.fetch import MirrorUpstream
from stilton.mirror.propagate import Propagation
from stilton.mirror.report import QuietObserver, SyncObserver, SyncReport
from stilton.mirror.store import MirrorStore
from stilton.mirror.sync import MirrorSync
from stilton.settings import Settings
from stilton.storage import catalog, mirrors
from stilton.storage.blobs import BlobStore
from stilton.storage.database import Database
from stilton.storage.mirrors import MirrorRecord
from stilton.storage.schema import utcnow
from stilton.upstream.client import UpstreamClient


@dataclass(frozen=True, slots=True)
class MirrorHome:
    """What mirrors work with: the database, the blob store, and where run locks live."""

    database: Database
    blobs: BlobStore
    max_upload_size: int
    lock_dir: Path

    @classmethod
    def of(cls, database: Database, blobs: BlobStore, settings: Settings) -> MirrorHome:
        return cls(database, blobs, settings.max_upload_size, settings.data_dir / "mirrors")

    def add(self, name: str, index: IndexName, config: MirrorConfig) -> MirrorRecord:
        if not name or "/" in name or name.startswith("."):
            raise InvalidInput(f"{name!r} is not a valid mirror name.")
        with self.database.begin() as connection:
            record = catalog.get_index(connection, index)
            if record.kind is not IndexKind.HOSTED:
                raise InvalidInput(
                    f"Index {index!r} is a {record.kind} index; a mirror fills a hosted index."
                )
            return mirrors.create_mirror(connection, name, index, config.to_mapping())

    def list(self) -> list[MirrorRecord]:
        with self.database.connect() as connection:
            return mirrors.list_mirrors(connection)

    def get(self, name: str) -> MirrorRecord:
        with self.database.connect() as connection:
            return mirrors.get_mirror(connection, name)

    def is_running(self, name: str) -> bool:
        try:
            with self.lock(name):
                return False
        except Conflict:
            return True

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(
                    f"Mirror {name!r} is being synced by another process; wait for it to end."
                ) from None
            yield
        finally:
            os.close(fd)

    def hosted(self, record: MirrorRecord) -> HostedIndex:
        with self.database.connect() as connection:
            index = catalog.get_index(connection, record.index)
        if index.kind is not IndexKind.HOSTED:
            raise InvalidInput(f"Index {record.index!r} of mirror {record.name!r} is not hosted.")
        return HostedIndex(index, self.database, self.blobs, self.max_upload_size)

    def _started(self, record: MirrorRecord) -> None:
        with self.database.begin() as connection:
            mirrors.mark_started(connection, record, utcnow())

    def _finished(self, record: MirrorRecord, report: SyncReport) -> None:
        with self.database.begin() as connection:
            mirrors.mark_finished(
                connection, record, report.status.value, report.to_mapping(), report.failure
            )


async def run_mirror(
    home: MirrorHome,
    name: str,
    observer: SyncObserver | None = None,
    *,
    prune: bool | None = None,
) -> SyncReport:
    """One sync of mirror ``name`` now; ``prune`` overrides the mirror's own setting."""
    with home.lock(name):
        record = await anyio.to_thread.run_sync(home.get, name)
        config = MirrorConfig.from_mapping(record.config)
        hosted = await anyio.to_thread.run_sync(home.hosted, record)
        await anyio.to_thread.run_sync(home._started, record)
        store = MirrorStore(hosted, record)
        pruning = config.prune if prune is None else prune
        report = await _sync(config, store, observer or QuietObserver(), pruning)
        await anyio.to_thread.run_sync(home._finished, record, report)
    return report


async def _sync(
    config: MirrorConfig, store: MirrorStore, observer: SyncObserver, prune: bool
) -> SyncReport:
    try:
        client = UpstreamClient(config.upstream)
    except StiltonError as exc:  # its TLS settings cannot be loaded
        return SyncReport(failure=exc.message)
    engine = MirrorSync(config, store, MirrorUpstream(client, config.concurrency), observer)
    try:
        await engine.resolve_and_fetch()
        if prune and engine.report.errors:
            engine.report.notes.append(
                "Nothing was pruned: with errors above the closure may be incomplete."
            )
            prune = False
        await Propagation(store, engine.walk, engine.report, prune).run()
    except StiltonError as exc:  # a full disk, an unusable store: the run cannot go on
        engine.report.failure = exc.message
    finally:
        await client.aclose()
    return engine.report
