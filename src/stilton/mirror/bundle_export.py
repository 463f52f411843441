"""``stilton export``: a hosted index (or what changed in it since a date) as a self-contained
air-gap bundle, a directory or one ``.tar``: every file and its core metadata under
``files/<sha256>/``, a static PEP 503 tree under ``simple/``, and ``manifest.json`` with the
sha256 of every file, written last. Every blob is hashed as it is copied, so a bundle never
carries bytes the store had corrupted.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from stilton.core.errors import InvalidInput, StorageError
from stilton.core.filenames import PackageType
from stilton.core.model import IndexKind
from stilton.core.names import ProjectName
from stilton.mirror.manifest import MANIFEST, BundleFile, BundleProject, Manifest
from stilton.mirror.static_tree import render_project, render_root
from stilton.storage import catalog, inventory
from stilton.storage.blobs import BlobStore
from stilton.storage.database import Database
from stilton.storage.inventory import ExportedFile
from stilton.storage.schema import utcnow

CHUNK = 1024 * 1024


class BundleWriter(Protocol):
    def add(self, name: str, source: BinaryIO, size: int) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class DirectoryWriter:
    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise InvalidInput(f"{root} exists and is not an empty directory; export elsewhere.")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, source: BinaryIO, size: int) -> None:
        target = self.root / name
        partial = target.with_name(target.name + ".part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as stream:
                shutil.copyfileobj(source, stream, CHUNK)
            os.replace(partial, target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise bundle_error(exc, self.root) from exc

    def finish(self) -> None:
        return

    def abort(self) -> None:
        return  # what was written stays for a look; it has no manifest, so it is no bundle


def bundle_error(exc: OSError, where: Path) -> StorageError:
    return StorageError(f"Could not write the bundle at {where}: {exc.strerror or exc}.")


class TarWriter:
    def __init__(self, path: Path) -> None:
        if path.exists():
            raise InvalidInput(f"{path} exists already; export elsewhere.")
        self.path = path
        self.partial = path.with_name(path.name + ".part")
        try:
            self.tar = tarfile.open(self.partial, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        except OSError as exc:
            raise bundle_error(exc, path) from exc

    def add(self, name: str, source: BinaryIO, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, int(utcnow().timestamp())
        try:
            self.tar.addfile(info, source)
        except OSError as exc:
            raise bundle_error(exc, self.path) from exc

    def finish(self) -> None:
        try:
            self.tar.close()
            os.replace(self.partial, self.path)
        except OSError as exc:
            raise bundle_error(exc, self.path) from exc

    def abort(self) -> None:
        self.tar.close()
        self.partial.unlink(missing_ok=True)


class HashingReader(io.RawIOBase):
    """Reads a blob while hashing it; ``check`` then says whether it held the right bytes."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        return len(data)

    def check(self, expected: str, what: str) -> None:
        if self.sha256.hexdigest() != expected:
            raise StorageError(
                f"The stored blob of {what} does not match its sha256 {expected}; the bundle was"
                " not finished. Run 'stilton verify' to find every damaged blob."
            )


@dataclass(frozen=True, slots=True)
class ExportReport:
    path: Path
    files: int
    bytes: int
    manifest_sha256: str


def _bundle_file(row: ExportedFile) -> BundleFile:
    return BundleFile(
        project=row.project, version=row.version, filename=row.filename, sha256=row.sha256,
        size=row.size, packagetype=PackageType(row.packagetype), upload_time=row.upload_time,
        requires_python=row.requires_python, yanked=row.yanked, yanked_reason=row.yanked_reason,
        metadata_sha256=row.metadata_sha256, metadata_size=row.metadata_size,
    )  # fmt: skip


class Exporter:
    def __init__(self, database: Database, blobs: BlobStore) -> None:
        self.database = database
        self.blobs = blobs

    def manifest(self, index: str, since: datetime | None) -> Manifest:
        with self.database.connect() as connection:
            record = catalog.get_index(connection, index)
            if record.kind is not IndexKind.HOSTED:
                raise InvalidInput(
                    f"Index {index!r} is a {record.kind} index; export a hosted one."
                )
            rows = inventory.files_to_export(connection, record, since)
        projects = {
            row.project: BundleProject(row.project, row.display_name, row.status, row.status_reason)
            for row in rows
        }
        files = tuple(_bundle_file(row) for row in rows)
        return Manifest(index, utcnow(), since, projects, files)

    def write(
        self, manifest: Manifest, writer: BundleWriter, progress: Callable[[str], None]
    ) -> str:
        """Write every part of the bundle, the manifest last; the manifest's sha256."""
        for file in manifest.files:
            self._blob(writer, file.path, file.sha256, file.size, file.filename)
            if file.metadata_path and file.metadata_sha256:
                what = file.filename + ".metadata"
                size = file.metadata_size or 0
                self._blob(writer, file.metadata_path, file.metadata_sha256, size, what)
            progress(file.filename)
        by_project: dict[ProjectName, list[BundleFile]] = {}
        for file in manifest.files:
            by_project.setdefault(file.project, []).append(file)
        self._bytes(writer, "simple/index.html", render_root(manifest.projects.values()))
        for name, project in manifest.projects.items():
            page = render_project(project, by_project.get(name, []))
            self._bytes(writer, f"simple/{name}/index.html", page)
        rendered = manifest.render()
        self._bytes(writer, MANIFEST, rendered)
        return hashlib.sha256(rendered).hexdigest()

    def _blob(self, writer: BundleWriter, name: str, sha256: str, size: int, what: str) -> None:
        with self._open(sha256) as stream:
            reader = HashingReader(stream)
            writer.add(name, io.BufferedReader(reader, CHUNK), size)
            reader.check(sha256, what)

    @contextmanager
    def _open(self, sha256: str) -> Iterator[BinaryIO]:
        size = self.blobs.stat(sha256)
        try:
            if size is None:
                raise FileNotFoundError(2, "missing")
            stream = self.blobs.open_reader(sha256, size)
        except OSError as exc:
            raise StorageError(
                f"The blob {sha256} is missing from the store ({exc.strerror});"
                " run 'stilton verify'."
            ) from exc
        with stream:
            yield stream

    def _bytes(self, writer: BundleWriter, name: str, data: bytes) -> None:
        writer.add(name, io.BytesIO(data), len(data))


def export_index(
    database: Database,
    blobs: BlobStore,
    index: str,
    destination: Path,
    since: datetime | None = None,
    progress: Callable[[str], None] = lambda _name: None,
) -> ExportReport:
    exporter = Exporter(database, blobs)
    manifest = exporter.manifest(index, since)
    writer: BundleWriter = (
        TarWriter(destination) if destination.suffix == ".tar" else DirectoryWriter(destination)
    )
    try:
        digest = exporter.write(manifest, writer, progress)
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    size = sum(file.size for file in manifest.files)
    return ExportReport(destination, len(manifest.files), size, digest)
