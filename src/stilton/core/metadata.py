"""Core metadata: read it out of wheels and sdists, check it, and turn it into release info.

Validation uses ``packaging.metadata``; what PyPI tolerates (unknown fields, fields newer than
the declared Metadata-Version, as older setuptools wrote) is tolerated here too.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from typing import IO, Any, cast

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.utils import canonicalize_name, canonicalize_version

from stilton.core.errors import InvalidInput
from stilton.core.filenames import DistributionFilename

MAX_METADATA_SIZE = 4 * 2**20
# What a truncated, corrupt or exotic archive raises while being read.
ARCHIVE_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    NotImplementedError,
)
ACCEPTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"})


def _dist_info_matches(directory: str, dist: DistributionFilename) -> bool:
    name, _, version = directory.removesuffix(".dist-info").rpartition("-")
    return canonicalize_name(name) == str(dist.project) and canonicalize_version(
        version
    ) == canonicalize_version(dist.version)


def read_wheel_metadata(archive: IO[bytes], dist: DistributionFilename) -> bytes:
    """PEP 427/658: the exact bytes of ``<name>-<version>.dist-info/METADATA``."""
    try:
        with zipfile.ZipFile(archive) as wheel:
            names = set(wheel.namelist())
            directories = {
                name.split("/", 1)[0]
                for name in names
                if name.split("/", 1)[0].endswith(".dist-info")
            }
            matching = [d for d in directories if _dist_info_matches(d, dist)]
            if len(matching) != 1:
                raise InvalidInput(
                    f"Invalid distribution file. Wheel {dist.filename!r} must contain exactly one"
                    f" '{dist.project}-{dist.version}.dist-info' directory; found"
                    f" {sorted(directories) or 'none'}."
                )
            dist_info = matching[0]
            for required in ("METADATA", "WHEEL", "RECORD"):
                if f"{dist_info}/{required}" not in names:
                    raise InvalidInput(
                        f"Invalid distribution file. Wheel {dist.filename!r} has no"
                        f" {dist_info}/{required}."
                    )
            info = wheel.getinfo(f"{dist_info}/METADATA")
            if info.file_size > MAX_METADATA_SIZE:
                raise InvalidInput(f"Invalid distribution file. {dist_info}/METADATA is too large.")
            return wheel.read(info)
    except ARCHIVE_ERRORS as exc:
        raise InvalidInput(
            f"Invalid distribution file. {dist.filename!r} is not a readable zip archive: {exc}"
        ) from exc


def read_sdist_metadata(archive: IO[bytes], dist: DistributionFilename) -> bytes | None:
    """The ``PKG-INFO`` at the top of an sdist, or None where it has none."""
    try:
        if dist.filename.endswith(".zip"):
            with zipfile.ZipFile(archive) as sdist:
                candidates = [
                    n for n in sdist.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")
                ]
                if not candidates:
                    return None
                info = sdist.getinfo(min(candidates))
                if info.file_size > MAX_METADATA_SIZE:
                    raise InvalidInput("Invalid distribution file. PKG-INFO is too large.")
                return sdist.read(info)
        with tarfile.open(fileobj=archive, mode="r:gz") as sdist:
            for member in sdist:
                if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    if not member.isfile() or member.size > MAX_METADATA_SIZE:
                        raise InvalidInput(
                            "Invalid distribution file. PKG-INFO is not a small file."
                        )
                    extracted = sdist.extractfile(member)
                    return extracted.read() if extracted else None
            return None
    except ARCHIVE_ERRORS as exc:
        raise InvalidInput(
            f"Invalid distribution file. {dist.filename!r} is not a readable archive: {exc}"
        ) from exc


def _tolerated(error: Exception) -> bool:
    # Older setuptools declared Metadata-Version 2.1 yet wrote License-File; PyPI accepts it.
    return "introduced in metadata version" in str(error)


def check_raw_metadata(raw: RawMetadata) -> None:
    """Validate with packaging; raise InvalidInput listing every problem found."""
    version = raw.get("metadata_version")
    if version not in ACCEPTED_METADATA_VERSIONS:
        raise InvalidInput(
            f"Invalid metadata: Metadata-Version {version!r} is not one of"
            f" {', '.join(sorted(ACCEPTED_METADATA_VERSIONS))}."
        )
    try:
        Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        problems = [str(error) for error in group.exceptions if not _tolerated(error)]
        if problems:
            raise InvalidInput(
                "Invalid metadata: " + "; ".join(problems) + ". See the core metadata"
                " specification for the allowed values."
            ) from group
    except InvalidMetadata as exc:
        raise InvalidInput(f"Invalid metadata: {exc}.") from exc


def parse_core_metadata(data: bytes) -> RawMetadata:
    """Parse and validate a METADATA / PKG-INFO file; unknown fields are ignored."""
    raw, _unparsed = parse_email(data)
    check_raw_metadata(raw)
    return raw


def check_metadata_matches(raw: RawMetadata, dist: DistributionFilename) -> None:
    """The metadata must describe the project and version its filename names."""
    name = raw.get("name", "")
    version = raw.get("version", "")
    if canonicalize_name(name) != str(dist.project):
        raise InvalidInput(
            f"Invalid distribution file. Its metadata names project {name!r} but the filename"
            f" {dist.filename!r} names {dist.project!r}."
        )
    if canonicalize_version(version) != canonicalize_version(dist.version):
        raise InvalidInput(
            f"Invalid distribution file. Its metadata has version {version!r} but the filename"
            f" {dist.filename!r} has {dist.version}."
        )


def release_info(raw: RawMetadata) -> dict[str, Any]:
    """The Warehouse JSON API ``info`` fields that come from core metadata."""
    get = cast(Mapping[str, Any], raw).get
    keywords = get("keywords")
    return {
        "name": get("name"),
        "version": get("version"),
        "summary": get("summary"),
        "description": get("description"),
        "description_content_type": get("description_content_type"),
        "keywords": ",".join(keywords) if keywords else None,
        "license": get("license"),
        "license_expression": get("license_expression"),
        "license_files": get("license_files"),
        "classifiers": get("classifiers") or [],
        "author": get("author"),
        "author_email": get("author_email"),
        "maintainer": get("maintainer"),
        "maintainer_email": get("maintainer_email"),
        "requires_python": get("requires_python"),
        "platform": ",".join(get("platforms") or []) or None,
        "home_page": get("home_page"),
        "download_url": get("download_url"),
        "project_urls": get("project_urls"),
        "requires_dist": get("requires_dist"),
        "provides_extra": get("provides_extra"),
        "dynamic": get("dynamic"),
    }
