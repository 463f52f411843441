"""The manifest of an air-gap bundle: every file, its sha256 and size, its core metadata file,
and what the index said of it (release, Requires-Python, upload time, yank, project status).

A bundle comes from elsewhere, so ``parse_manifest`` trusts nothing: every field is checked
for its type, names are checked as names, and a file's place in the bundle is not read from
the manifest but derived from its sha256 and filename (``file_path``), so no entry can point
outside the bundle, at another entry's bytes, or at anything but a plain file name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType, parse_distribution_filename
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName, normalize_project_name

FORMAT = "stilton-bundle"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_SIZE = 512 * 2**20  # bytes; ~1.5 million files
HEX = frozenset("0123456789abcdef")


def file_path(sha256: str, filename: str) -> str:
    """Where a file lives in a bundle (its metadata file: the same + ".metadata")."""
    return f"files/{sha256}/{filename}"


@dataclass(frozen=True, slots=True)
class BundleProject:
    name: ProjectName
    display_name: str
    status: ProjectStatus = ProjectStatus.ACTIVE
    status_reason: str | None = None


@dataclass(frozen=True, slots=True)
class BundleFile:
    project: ProjectName
    version: str
    filename: str
    sha256: str
    size: int
    packagetype: PackageType
    upload_time: datetime
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    metadata_sha256: str | None = None
    metadata_size: int | None = None

    @property
    def path(self) -> str:
        return file_path(self.sha256, self.filename)

    @property
    def metadata_path(self) -> str | None:
        return self.path + ".metadata" if self.metadata_sha256 else None


@dataclass(frozen=True, slots=True)
class Manifest:
    index: str
    created: datetime
    since: datetime | None
    projects: dict[ProjectName, BundleProject]
    files: tuple[BundleFile, ...]

    def render(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "index": self.index,
            "created": _time(self.created),
            "since": _time(self.since) if self.since else None,
            "projects": [_project_json(p) for p in self.projects.values()],
            "files": [_file_json(f) for f in self.files],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _project_json(project: BundleProject) -> dict[str, Any]:
    return {
        "name": project.name,
        "display_name": project.display_name,
        "status": project.status.value,
        "status_reason": project.status_reason,
    }


def _file_json(file: BundleFile) -> dict[str, Any]:
    return {
        "project": file.project,
        "version": file.version,
        "filename": file.filename,
        "path": file.path,
        "sha256": file.sha256,
        "size": file.size,
        "packagetype": file.packagetype.value,
        "upload_time": _time(file.upload_time),
        "requires_python": file.requires_python,
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
        "metadata_path": file.metadata_path,
        "metadata_sha256": file.metadata_sha256,
        "metadata_size": file.metadata_size,
    }


# -- reading an untrusted manifest ---------------------------------------------------------------


class ManifestError(InvalidInput):
    def __init__(self, problem: str) -> None:
        super().__init__(f"The bundle's manifest is not valid, so nothing was imported: {problem}")


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}: {key!r} is missing or not text.")
    return value


def _digest(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or not HEX.issuperset(value):
        raise ManifestError(f"{where}: a sha256 must be 64 lowercase hex digits.")
    return value


def _moment(value: object, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ManifestError(f"{where}: {value!r} is not an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _size(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestError(f"{where}: a size must be a non-negative integer.")
    return value


def _optional_text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ManifestError(f"{where}: {key!r} must be text or null.")
    return value


def _bundle_file(entry: object, number: int) -> BundleFile:
    where = f"file #{number}"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} is not an object.")
    filename = _text(entry, "filename", where)
    where = f"file #{number} ({filename!r})"
    try:
        dist = parse_distribution_filename(filename)  # refuses separators, "..", dot names
    except InvalidInput as exc:
        raise ManifestError(f"{where}: {exc.message}") from None
    sha256 = _digest(entry.get("sha256"), where)
    if entry.get("path") != file_path(sha256, filename):
        raise ManifestError(f"{where}: its path must be {file_path(sha256, filename)!r}.")
    metadata = entry.get("metadata_sha256")
    metadata_sha256 = _digest(metadata, where) if metadata is not None else None
    expected_metadata = file_path(sha256, filename) + ".metadata" if metadata_sha256 else None
    if entry.get("metadata_path") != expected_metadata:
        raise ManifestError(f"{where}: its metadata_path must be {expected_metadata!r}.")
    project = _text(entry, "project", where)
    if project != dist.project:
        raise ManifestError(f"{where}: it belongs to {dist.project!r}, not {project!r}.")
    return BundleFile(
        project=dist.project,
        version=_text(entry, "version", where),
        filename=filename,
        sha256=sha256,
        size=_size(entry.get("size"), where),
        packagetype=dist.packagetype,
        upload_time=_moment(entry.get("upload_time"), where),
        requires_python=_optional_text(entry, "requires_python", where),
        yanked=entry.get("yanked") is True,
        yanked_reason=_optional_text(entry, "yanked_reason", where),
        metadata_sha256=metadata_sha256,
        metadata_size=_size(entry["metadata_size"], where) if metadata_sha256 else None,
    )


def _bundle_project(entry: object) -> BundleProject:
    if not isinstance(entry, dict):
        raise ManifestError("a project is not an object.")
    name = _text(entry, "name", "a project")
    try:
        normalized = normalize_project_name(name)
        status = ProjectStatus(entry.get("status", "active"))
    except (InvalidInput, ValueError):
        raise ManifestError(f"project {name!r} has an invalid name or status.") from None
    display = _optional_text(entry, "display_name", f"project {name!r}") or normalized
    return BundleProject(
        normalized, display, status, _optional_text(entry, "status_reason", f"project {name!r}")
    )


def parse_manifest(data: bytes) -> Manifest:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"it is not JSON ({exc}).") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ManifestError(f"it does not say it is a {FORMAT} manifest.")
    if document.get("version") != VERSION:
        raise ManifestError(f"its version {document.get('version')!r} is not {VERSION}.")
    raw_files, raw_projects = document.get("files"), document.get("projects")
    if not isinstance(raw_files, list) or not isinstance(raw_projects, list):
        raise ManifestError("'files' and 'projects' must be lists.")
    files = tuple(_bundle_file(entry, number) for number, entry in enumerate(raw_files, 1))
    names = [file.filename for file in files]
    if len(set(names)) != len(names):
        raise ManifestError("a filename is listed twice.")
    projects = {p.name: p for p in (_bundle_project(entry) for entry in raw_projects)}
    index = document.get("index")
    since = document.get("since")
    return Manifest(
        index=index if isinstance(index, str) else "",
        created=_moment(document.get("created"), "the manifest"),
        since=_moment(since, "the manifest") if since else None,
        projects=projects,
        files=files,
    )
