"""The hosted index: private packages that come in by upload or import and never change.

A filename, once stored, can never hold other bytes, even after its file is deleted.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from anyio import to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from stilton.core.errors import FileAlreadyExists, InvalidInput, NotFound
from stilton.core.filenames import PackageType
from stilton.core.model import IndexKind, ProjectDetail, ProjectStatus
from stilton.core.names import IndexName, ProjectName, normalize_project_name
from stilton.core.render_warehouse import render_warehouse_json
from stilton.core.upload_form import parse_upload_form
from stilton.indexes.base import (
    FileListing,
    Index,
    ProjectList,
    ProjectView,
    StoredBlob,
    UploadOutcome,
    listing_of,
)
from stilton.indexes.spool import SpooledFile, spool_local_file
from stilton.indexes.upload import CheckedUpload, check_filename, check_upload, verify_digests
from stilton.storage import catalog
from stilton.storage.blobs import BlobStore
from stilton.storage.catalog import IndexRecord, StoredFile
from stilton.storage.changes import RESET, Change, ChangeScope
from stilton.storage.database import Database, serialize
from stilton.storage.schema import utcnow


class AbsentProjects:
    """Names hosted indexes were found not to have, so that a group does not ask the database
    again on every request for a project a later member serves (a cold install through the
    default group asks ~300 times). A name is forgotten when the change feed reports a change
    to its index, as every cache of the process forgets: at once for a change made by this
    process, within the poll interval for one made by another (DESIGN.md: "caches coherent
    across the workers within a second")."""

    MAX_NAMES = 100_000  # ~10 MiB at most; past it, everything is forgotten

    def __init__(self) -> None:
        self._absent: set[tuple[str, str]] = set()
        self._changes: dict[str, int] = {}  # changes heard per index, to refuse a stale answer
        self._resets = 0
        self._lock = threading.Lock()

    def has(self, index: str, name: str) -> bool:
        """Known to be absent (False: absent or not, the database must be asked)."""
        return (index, name) in self._absent

    def mark(self, index: str) -> tuple[int, int]:
        """Taken before asking the database: ``add`` then refuses an answer that a change
        heard in the meantime may have made stale."""
        with self._lock:
            return self._resets, self._changes.get(index, 0)

    def add(self, index: str, name: str, mark: tuple[int, int]) -> None:
        with self._lock:
            if mark != (self._resets, self._changes.get(index, 0)):
                return
            if len(self._absent) >= self.MAX_NAMES:
                self._absent.clear()
            self._absent.add((index, name))

    def heard(self, changes: Sequence[Change]) -> None:
        with self._lock:
            for change in changes:
                if change == RESET or (change.scope is ChangeScope.INDEX and not change.index):
                    self._resets += 1
                    self._absent.clear()
                elif change.index and change.scope in (ChangeScope.PROJECT, ChangeScope.INDEX):
                    self._changes[change.index] = self._changes.get(change.index, 0) + 1
                    if change.scope is ChangeScope.PROJECT and change.project:
                        self._absent.discard((change.index, change.project))
                    else:
                        self._absent = {k for k in self._absent if k[0] != change.index}


class HostedIndex:
    def __init__(
        self,
        record: IndexRecord,
        database: Database,
        blobs: BlobStore,
        max_upload_size: int,
        absent: AbsentProjects | None = None,
    ) -> None:
        """``absent``: the process's memory of names this index lacks (None: none kept)."""
        self.record = record
        self.database = database
        self.blobs = blobs
        self.max_upload_size = max_upload_size
        self.absent = absent

    @property
    def name(self) -> IndexName:
        return self.record.name

    @property
    def _writes(self) -> str:
        """The key writers of this index take turns on (``storage.database.serialize``)."""
        return f"hosted writes {self.record.id}"

    @property
    def kind(self) -> IndexKind:
        return IndexKind.HOSTED

    # -- the Index protocol ----------------------------------------------------------------

    def uploads(self) -> HostedIndex:
        return self

    def leaves(self) -> Sequence[Index]:
        return [self]

    async def aclose(self) -> None:
        return  # nothing held between requests

    async def list_projects(self, within: frozenset[IndexName] | None = None) -> ProjectList:
        return await to_thread.run_sync(self.project_list)

    async def find_project(self, name: ProjectName) -> ProjectView | None:
        absent = self.absent
        if absent is not None and absent.has(self.name, name):
            return None
        mark = absent.mark(self.name) if absent is not None else None
        detail = await to_thread.run_sync(self.find_detail, name)
        if detail is not None:
            return ProjectView(detail)
        if absent is not None and mark is not None:
            absent.add(self.name, name, mark)
        return None

    async def find_listing(self, name: ProjectName, filename: str) -> FileListing:
        return listing_of(await self.find_project(name), filename)

    async def open_file(self, sha256: str, filename: str) -> StoredBlob:
        stored = await to_thread.run_sync(self._get_file, sha256, filename)
        return StoredBlob(stored.sha256, stored.size)

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        stored = await to_thread.run_sync(self._get_file, sha256, filename)
        if stored.metadata_sha256 is None or stored.metadata_size is None:
            raise NotFound(f"{filename!r} has no core metadata file (PEP 658 covers wheels only).")
        return StoredBlob(stored.metadata_sha256, stored.metadata_size)

    async def project_json(self, name: ProjectName, version: str | None, base_url: str) -> bytes:
        detail = await to_thread.run_sync(self.find_detail, name)
        if detail is None or detail.status is ProjectStatus.QUARANTINED:
            raise NotFound(f"Project {name!r} is not in index {self.name!r}.")
        return render_warehouse_json(detail, version, base_url)

    # -- reading (synchronous, for the CLI and the async methods) --------------------------

    def project_list(self) -> ProjectList:
        with self.database.connect() as connection:
            return ProjectList(
                catalog.list_projects(connection, self.record),
                catalog.last_serial(connection, self.record),
            )

    def find_detail(self, name: ProjectName) -> ProjectDetail | None:
        with self.database.connect() as connection:
            return catalog.find_project_detail(connection, self.record, name)

    def _get_file(self, sha256: str, filename: str) -> StoredFile:
        with self.database.connect() as connection:
            stored = catalog.find_live_file(connection, self.name, sha256, filename)
        if stored is None:
            raise NotFound(f"No file {filename!r} with sha256 {sha256} in index {self.name!r}.")
        return stored

    # -- adding files ----------------------------------------------------------------------

    def upload(
        self,
        spooled: SpooledFile,
        fields: Mapping[str, Sequence[str]],
        actor: str,
        address: str = "",
    ) -> UploadOutcome:
        """The legacy upload API: check the form and the file, then store it."""
        try:
            dist = check_filename(spooled)
            form = parse_upload_form(fields, dist)
            verify_digests(form.digests, spooled)
            checked = check_upload(
                spooled, dist, form.metadata, python_version=form.pyversion, comment=form.comment
            )
        except BaseException:
            spooled.discard()
            raise
        return self.store_file(checked, actor, address=address)

    def import_file(self, path: Path, actor: str) -> UploadOutcome:
        """``stilton import``: a distribution file on disk, checked like an upload."""
        spooled = spool_local_file(path, self.blobs, self.max_upload_size)
        try:
            checked = check_upload(spooled, check_filename(spooled))
        except BaseException:
            spooled.discard()
            raise
        return self.store_file(checked, actor, one_sdist_per_release=False)

    def store_file(
        self,
        checked: CheckedUpload,
        actor: str,
        *,
        one_sdist_per_release: bool = True,
        address: str = "",
        upload_time: datetime | None = None,
    ) -> UploadOutcome:
        """Blobs first (fsynced, in place), then one transaction for the rows. A mirror passes
        the upstream's ``upload_time`` (PEP 700), which cooldown policies judge by."""
        spooled = checked.spooled
        try:
            with self.database.connect() as connection:
                if self._check_conflicts(connection, checked, one_sdist_per_release):
                    spooled.discard()
                    return UploadOutcome.UNCHANGED
            self.blobs.put_spooled(spooled.spool, spooled.digests.sha256)
        except BaseException:
            spooled.discard()
            raise
        metadata_sha256, metadata_size = None, None
        if checked.metadata_file is not None:
            metadata_sha256 = hashlib.sha256(checked.metadata_file).hexdigest()
            metadata_size = len(checked.metadata_file)
            self.blobs.put_bytes(checked.metadata_file, metadata_sha256)
        try:
            with self.database.begin() as connection:
                serialize(connection, self._writes)
                if self._check_conflicts(connection, checked, one_sdist_per_release):
                    return UploadOutcome.UNCHANGED
                self._insert(
                    connection,
                    checked,
                    (metadata_sha256, metadata_size),
                    actor,
                    address,
                    upload_time or utcnow(),
                )
        except IntegrityError:
            # A concurrent upload of the same filename won the race; judge against it.
            with self.database.connect() as connection:
                if self._check_conflicts(connection, checked, one_sdist_per_release):
                    return UploadOutcome.UNCHANGED
            raise
        return UploadOutcome.CREATED

    def _check_conflicts(
        self, connection: Connection, checked: CheckedUpload, one_sdist_per_release: bool
    ) -> bool:
        """True when the identical file is already stored; raise when the upload conflicts."""
        digests = checked.spooled.digests
        existing = catalog.find_file_by_name(connection, self.record, checked.dist.filename)
        if existing is not None:
            if existing.deleted:
                raise FileAlreadyExists(existing.filename, existing.blake2b_256, deleted=True)
            if existing.sha256 != digests.sha256:
                raise FileAlreadyExists(existing.filename, existing.blake2b_256)
            return True
        twin = catalog.find_file_by_sha256(connection, self.record, digests.sha256)
        if twin is not None:
            raise FileAlreadyExists(twin.filename, twin.blake2b_256)
        if one_sdist_per_release and checked.dist.packagetype is PackageType.SDIST:
            project = catalog.find_project_id(connection, self.record, checked.dist.project)
            release = (
                catalog.find_release_id(connection, project, checked.version) if project else None
            )
            if release is not None and catalog.has_sdist(connection, release):
                raise InvalidInput("Only one sdist may be uploaded per release.")
        return False

    def _insert(
        self,
        connection: Connection,
        checked: CheckedUpload,
        metadata: tuple[str | None, int | None],
        actor: str,
        address: str,
        upload_time: datetime,
    ) -> None:
        dist, spooled = checked.dist, checked.spooled
        metadata_sha256, metadata_size = metadata
        display = checked.release_info.get("name") or dist.project
        project_id = catalog.ensure_project(connection, self.record, dist.project, display)
        release_id = catalog.ensure_release(
            connection, project_id, checked.version, checked.release_info
        )
        catalog.insert_file(
            connection,
            {
                "index_id": self.record.id,
                "project_id": project_id,
                "release_id": release_id,
                "filename": dist.filename,
                "packagetype": dist.packagetype.value,
                "python_version": checked.python_version,
                "size": spooled.size,
                "sha256": spooled.digests.sha256,
                "blake2b_256": spooled.digests.blake2b_256,
                "md5": spooled.digests.md5,
                "requires_python": checked.requires_python,
                "upload_time": upload_time,
                "yanked": False,
                "metadata_sha256": metadata_sha256,
                "metadata_size": metadata_size,
                "comment": checked.comment,
                "uploaded_by": actor,
            },
        )
        catalog.record_change(
            connection,
            self.record,
            dist.project,
            "add file",
            version=checked.version,
            filename=dist.filename,
            actor=actor,
            address=address,
        )

    # -- changing files --------------------------------------------------------------------

    def set_yanked(
        self,
        project: str,
        version: str | None,
        filename: str | None,
        *,
        yanked: bool,
        reason: str | None = None,
        actor: str = "",
        address: str = "",
    ) -> list[str]:
        """PEP 592: yank (or unyank) one file, or every file of a release. Returns filenames."""
        name = normalize_project_name(project)
        with self.database.begin() as connection:
            serialize(connection, self._writes)
            rows = self._select(connection, name, version, filename)
            release_ids = sorted({row.release_id for row in rows}) if filename is None else []
            catalog.set_yanked(
                connection,
                [row.id for row in rows],
                release_ids,
                reason if yanked else None,
                yanked,
            )
            catalog.record_change(
                connection,
                self.record,
                name,
                "yank" if yanked else "unyank",
                version=version,
                filename=filename,
                actor=actor,
                detail=reason,
                address=address,
            )
        return [row.filename for row in rows]

    def delete(
        self,
        project: str,
        version: str | None,
        filename: str | None,
        actor: str = "",
        address: str = "",
    ) -> list[str]:
        """Delete one file, a release or (with neither) every file of a project."""
        name = normalize_project_name(project)
        with self.database.begin() as connection:
            serialize(connection, self._writes)
            rows = self._select(connection, name, version, filename)
            catalog.mark_deleted(connection, [row.id for row in rows], utcnow())
            catalog.record_change(
                connection,
                self.record,
                name,
                "remove file" if filename else "remove release" if version else "remove project",
                version=version,
                filename=filename,
                actor=actor,
                address=address,
            )
        return [row.filename for row in rows]

    def _select(
        self, connection: Connection, name: ProjectName, version: str | None, filename: str | None
    ) -> list[catalog.LiveFileRow]:
        rows = catalog.select_live_files(connection, self.record, name, version, filename)
        if not rows:
            what = (
                f"file {filename!r}" if filename else f"release {version!r}" if version else "files"
            )
            raise NotFound(f"Project {name!r} in index {self.name!r} has no live {what}.")
        return rows
