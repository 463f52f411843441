"""``stilton import-bundle``: load an air-gap bundle (a directory or a ``.tar``) into a hosted
index, safe to repeat.

Nothing is stored before everything is checked: the manifest (``parse_manifest``), the sha256
and size of every file and metadata file, a wheel's own METADATA against the manifest, and
filenames the index already holds with other bytes. Only then is each file copied into the
store, hashed again on the way (a bundle changed meanwhile stops the import), checked like an
upload and stored with its upload time, yank and project status.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stilton.core.errors import InvalidInput
from stilton.core.filenames import parse_distribution_filename
from stilton.core.metadata import read_wheel_metadata
from stilton.indexes.base import UploadOutcome
from stilton.indexes.hosted import HostedIndex
from stilton.indexes.spool import Spooler
from stilton.indexes.upload import check_filename, check_upload
from stilton.mirror.fetch import MAX_FILE_SIZE
from stilton.mirror.manifest import (
    MANIFEST,
    MAX_MANIFEST_SIZE,
    BundleFile,
    Manifest,
    parse_manifest,
)
from stilton.storage import inventory, mirrors
from stilton.storage.inventory import IndexedFile

CHUNK = 1024 * 1024
MAX_PROBLEMS_SHOWN = 20


class BundleRefused(InvalidInput):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        super().__init__(
            f"The bundle failed its checks, so nothing was imported ({len(problems)} problem(s)):"
            f" {shown}" + (f"; and {more} more." if more > 0 else ".")
        )


class DirectoryReader:
    """A bundle directory: only regular files inside it, never through a symbolic link."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        path = self.root / name
        try:
            if path.resolve() != path or not path.resolve().is_relative_to(self.root):
                raise InvalidInput(f"{name} is a symbolic link or leaves the bundle.")
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise InvalidInput(f"{name} cannot be read from the bundle: {exc.strerror}.") from exc
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InvalidInput(f"{name} in the bundle is not a regular file.")
            yield stream

    def close(self) -> None:
        return


class TarReader:
    """A bundle in one tar: members read by the names the manifest implies, never extracted."""

    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path, "r:")  # noqa: SIM115
            self.members = {member.name: member for member in self.tar.getmembers()}
        except (OSError, tarfile.TarError) as exc:
            raise InvalidInput(f"{path} is not a readable tar file: {exc}.") from exc

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        member = self.members.get(name)
        if member is None or not member.isreg():
            raise InvalidInput(f"{name} is missing from the bundle or is not a regular file.")
        stream = self.tar.extractfile(member)
        assert stream is not None  # a regular member
        with stream:
            yield stream

    def close(self) -> None:
        self.tar.close()


BundleReader = DirectoryReader | TarReader


def open_bundle(path: Path) -> BundleReader:
    if path.is_dir():
        return DirectoryReader(path)
    if path.is_file():
        return TarReader(path)
    raise InvalidInput(f"{path} is neither a bundle directory nor a .tar file.")


def read_manifest(reader: BundleReader, expected_sha256: str | None) -> Manifest:
    with reader.open(MANIFEST) as stream:
        data = stream.read(MAX_MANIFEST_SIZE + 1)
    if len(data) > MAX_MANIFEST_SIZE:
        raise InvalidInput(f"The bundle's manifest is larger than {MAX_MANIFEST_SIZE} bytes.")
    actual = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise BundleRefused([f"the manifest's sha256 is {actual}, not {expected_sha256}"])
    return parse_manifest(data)


def _yank(yanked: bool, reason: str | None) -> tuple[bool, str | None]:
    return (yanked, reason) if yanked else (False, None)


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    sha256, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        sha256.update(chunk)
        size += len(chunk)
    return sha256.hexdigest(), size


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    present: int = 0
    restored: list[str] = field(default_factory=list)
    yanks: list[str] = field(default_factory=list)  # yank states set from the manifest


class BundleImport:
    def __init__(self, reader: BundleReader, hosted: HostedIndex, actor: str) -> None:
        self.reader = reader
        self.hosted = hosted
        self.actor = actor
        self.report = ImportReport()

    def _inventory(self) -> dict[str, IndexedFile]:
        with self.hosted.database.connect() as connection:
            return inventory.index_files(connection, self.hosted.record)

    def check(self, manifest: Manifest, progress: Callable[[str], None]) -> None:
        """Every hash, size and name, before anything is stored; BundleRefused lists all."""
        problems: list[str] = []
        stored = self._inventory()
        for file in manifest.files:
            problems += self._check_file(file, stored.get(file.filename))
            progress(file.filename)
        if problems:
            raise BundleRefused(problems)

    def _check_file(self, file: BundleFile, stored: IndexedFile | None) -> list[str]:
        if stored is not None and stored.sha256 != file.sha256:
            return [f"{file.filename}: index {self.hosted.name!r} holds other bytes of that name"]
        try:
            with self.reader.open(file.path) as stream:
                sha256, size = _digest(stream)
            if (sha256, size) != (file.sha256, file.size):
                return [f"{file.filename}: its sha256 or size is not what the manifest says"]
            if file.metadata_path is not None:
                return self._check_metadata(file)
        except InvalidInput as exc:
            return [exc.message]
        return []

    def _check_metadata(self, file: BundleFile) -> list[str]:
        assert file.metadata_path is not None
        with self.reader.open(file.metadata_path) as stream:
            sha256, _size = _digest(stream)
        if sha256 != file.metadata_sha256:
            return [f"{file.filename}.metadata: its sha256 is not what the manifest says"]
        with self.reader.open(file.path) as archive:
            own = read_wheel_metadata(archive, parse_distribution_filename(file.filename))
        if hashlib.sha256(own).hexdigest() != file.metadata_sha256:
            return [f"{file.filename}: its own METADATA is not the bundle's metadata file"]
        return []

    def store(self, manifest: Manifest, progress: Callable[[str], None]) -> ImportReport:
        stored = self._inventory()
        for file in manifest.files:
            self._store_file(file, stored.get(file.filename))
            progress(file.filename)
        for project in manifest.projects.values():
            with self.hosted.database.begin() as connection:
                mirrors.set_project_status(
                    connection, self.hosted.record, project.name, project.status,
                    project.status_reason, self.actor,
                )  # fmt: skip
        return self.report

    def _store_file(self, file: BundleFile, stored: IndexedFile | None) -> None:
        if stored is not None and stored.deleted:
            with self.hosted.database.begin() as connection:
                mirrors.restore_file(
                    connection, self.hosted.record, file.project, file.filename, file.sha256,
                    self.actor,
                )  # fmt: skip
            self.report.restored.append(file.filename)
        elif stored is not None:
            self.report.present += 1
        else:
            self._copy_in(file)
        current = (stored.yanked, stored.yanked_reason) if stored else (False, None)
        if _yank(*current) != _yank(file.yanked, file.yanked_reason):
            self.hosted.set_yanked(
                file.project, None, file.filename, yanked=file.yanked,
                reason=file.yanked_reason, actor=self.actor,
            )  # fmt: skip
            self.report.yanks.append(file.filename)

    def _copy_in(self, file: BundleFile) -> None:
        spooler = Spooler(self.hosted.blobs, file.filename, MAX_FILE_SIZE)
        try:
            with self.reader.open(file.path) as stream:
                while chunk := stream.read(CHUNK):
                    spooler.write(chunk)
        except BaseException:
            spooler.abort()
            raise
        spooled = spooler.finish()
        if spooled.digests.sha256 != file.sha256:
            spooled.discard()
            raise InvalidInput(
                f"{file.filename} changed in the bundle while it was being imported; the files"
                " stored so far were verified, the rest were not imported. Import it again."
            )
        checked = check_upload(spooled, check_filename(spooled))
        outcome = self.hosted.store_file(
            checked, self.actor, one_sdist_per_release=False, upload_time=file.upload_time
        )
        if outcome is UploadOutcome.CREATED:
            self.report.added.append(file.filename)
        else:
            self.report.present += 1


def import_bundle(
    reader: BundleReader,
    manifest: Manifest,
    hosted: HostedIndex,
    progress: Callable[[str], None] = lambda _name: None,
    actor: str = "cli:import-bundle",
) -> ImportReport:
    """Check everything (``BundleRefused`` and nothing stored on any problem), then store."""
    job = BundleImport(reader, hosted, actor)
    job.check(manifest, progress)
    return job.store(manifest, progress)
