"""The hosted index a mirror fills, as the sync engine changes it: verified files stored with
the hosted index's own pipeline (``check_upload`` then ``store_file``), and the upstream's
yanks, removals and PEP 792 statuses carried over, each journaled and published on the change
feed. Also the mirror's record of which files it stored. Synchronous: run in worker threads.
"""

from __future__ import annotations

import threading

from packaging.metadata import RawMetadata

from stilton.core.errors import NotFound, StorageError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.metadata import parse_core_metadata, read_sdist_metadata, read_wheel_metadata
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.indexes.base import UploadOutcome
from stilton.indexes.hosted import HostedIndex
from stilton.indexes.spool import SpooledFile
from stilton.indexes.upload import check_filename, check_upload
from stilton.storage import inventory, mirrors
from stilton.storage.inventory import IndexedFile
from stilton.storage.mirrors import FollowedPage, MirrorRecord
from stilton.upstream.model import UpstreamFile

NOTE_BATCH = 64  # files noted as the mirror's per transaction


def requires_dist(raw: RawMetadata) -> list[str]:
    return list(raw.get("requires_dist") or [])


class MirrorStore:
    def __init__(self, hosted: HostedIndex, mirror: MirrorRecord) -> None:
        self.hosted = hosted
        self.mirror = mirror
        self.actor = f"mirror:{mirror.name}"
        # Files stored but not yet noted as the mirror's: noted in batches, one commit each. A
        # run cut short notes the rest next time (the files themselves are stored already).
        self._unnoted: list[tuple[ProjectName, str, str]] = []
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def inventory(self) -> dict[str, IndexedFile]:
        with self.hosted.database.connect() as connection:
            return inventory.index_files(connection, self.hosted.record)

    def mirrored(self) -> dict[str, tuple[str, str]]:
        with self.hosted.database.connect() as connection:
            return mirrors.mirrored_files(connection, self.mirror)

    def followed_page(self, project: ProjectName) -> FollowedPage | None:
        with self.hosted.database.connect() as connection:
            return mirrors.find_page(connection, self.mirror, project)

    def stored_requirements(self, stored: IndexedFile) -> list[str]:
        """The Requires-Dist of a file stored already, read from the blob store."""
        blobs = self.hosted.blobs
        if stored.metadata_sha256 is not None:
            return requires_dist(parse_core_metadata(blobs.read(stored.metadata_sha256)))
        dist = parse_distribution_filename(stored.filename)
        reader = read_wheel_metadata if dist.is_wheel else read_sdist_metadata
        try:
            size = blobs.stat(stored.sha256)
            if size is None:
                raise StorageError("it is missing from the blob store")
            with blobs.open_reader(stored.sha256, size) as archive:
                data = reader(archive, dist)
        except (OSError, StorageError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else exc.message
            raise NotFound(
                f"the stored file cannot be read ({reason}); 'stilton verify' checks them all"
            ) from exc
        return requires_dist(parse_core_metadata(data)) if data else []

    # -- changing the index ----------------------------------------------------------------

    def store(self, spooled: SpooledFile, file: UpstreamFile, project: ProjectName) -> list[str]:
        """Check and store a verified download; returns its Requires-Dist."""
        try:
            checked = check_upload(spooled, check_filename(spooled))
        except BaseException:
            spooled.discard()
            raise
        outcome = self.hosted.store_file(
            checked, self.actor, one_sdist_per_release=False, upload_time=file.upload_time
        )
        if outcome is UploadOutcome.CREATED and file.yanked:
            self.set_yanked(project, file.filename, True, file.yanked_reason)
        self.record(project, file.filename, checked.spooled.digests.sha256)
        return list(checked.release_info.get("requires_dist") or [])

    def record(self, project: ProjectName, filename: str, sha256: str) -> None:
        with self._lock:
            self._unnoted.append((project, filename, sha256))
            full = len(self._unnoted) >= NOTE_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        """Note every file stored so far as the mirror's."""
        with self._lock:
            batch, self._unnoted = self._unnoted, []
        if not batch:
            return
        with self.hosted.database.begin() as connection:
            for project, filename, sha256 in batch:
                mirrors.add_mirrored_file(connection, self.mirror, project, filename, sha256)

    def restore(self, project: ProjectName, filename: str, sha256: str) -> bool:
        with self.hosted.database.begin() as connection:
            restored = mirrors.restore_file(
                connection, self.hosted.record, project, filename, sha256, self.actor
            )
            mirrors.add_mirrored_file(connection, self.mirror, project, filename, sha256)
        return restored

    def set_yanked(
        self, project: ProjectName, filename: str, yanked: bool, reason: str | None
    ) -> None:
        self.hosted.set_yanked(
            project, None, filename, yanked=yanked, reason=reason, actor=self.actor
        )

    def remove(self, project: ProjectName, filenames: list[str], live: set[str]) -> None:
        """Delete the live ones of ``filenames`` and forget all of them."""
        for filename in filenames:
            if filename in live:
                self.hosted.delete(project, None, filename, actor=self.actor)
        with self.hosted.database.begin() as connection:
            mirrors.drop_mirrored_files(connection, self.mirror, filenames)

    def set_status(self, project: ProjectName, status: ProjectStatus, reason: str | None) -> bool:
        with self.hosted.database.begin() as connection:
            return mirrors.set_project_status(
                connection, self.hosted.record, project, status, reason, self.actor
            )

    def keep_page(self, project: ProjectName, followed: FollowedPage | None) -> None:
        with self.hosted.database.begin() as connection:
            if followed is None:
                mirrors.forget_page(connection, self.mirror, project)
            else:
                mirrors.keep_page(connection, self.mirror, project, followed)
