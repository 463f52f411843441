"""Core metadata: read it out of wheels and sdists, check it, and turn it into release info.

Validation uses ``packaging.metadata``; what PyPI tolerates (unknown fields, fields newer than
the declared Metadata-Version, as older setuptools wrote) is tolerated here too. What installers
cannot read (bytes that are not UTF-8, a Metadata-Version no tool knows) is refused.
"""

from __future__ import annotations

import functools
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
# What PyPI accepts (PROTOCOLS.md §3.1; warehouse forklift/metadata.py). "2.0" was never a final
# specification (PEP 426 was withdrawn), but wheel < 0.31 wrote it for years.
ACCEPTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5")
# packaging knows no 2.0: such metadata is validated as the 2.1 that formalised it (PEP 566).
_VALIDATED_AS = {"2.0": "2.1"}
CORE_METADATA_SPEC = "https://packaging.python.org/specifications/core-metadata"


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


def check_metadata_version(version: str | None) -> str:
    """The declared Metadata-Version, if it is one an index accepts."""
    if version is None or version not in ACCEPTED_METADATA_VERSIONS:
        raise InvalidInput(
            f"Invalid metadata: Metadata-Version {version!r} is not one of"
            f" {', '.join(ACCEPTED_METADATA_VERSIONS)}. Build the distribution with a current"
            f" build backend; see {CORE_METADATA_SPEC}."
        )
    return version


def _validate(raw: RawMetadata, problems: list[str]) -> None:
    """Validate with packaging, adding to ``problems`` whatever PyPI would refuse."""
    version = check_metadata_version(raw.get("metadata_version"))
    checked = cast(RawMetadata, {**raw, "metadata_version": _VALIDATED_AS.get(version, version)})
    try:
        Metadata.from_raw(checked, validate=True)
    except ExceptionGroup as group:
        problems.extend(str(error) for error in group.exceptions if not _tolerated(error))
    except InvalidMetadata as exc:
        problems.append(str(exc))
    if problems:
        raise InvalidInput(
            "Invalid metadata: " + "; ".join(problems) + f". See {CORE_METADATA_SPEC} for the"
            " allowed values."
        )


def check_raw_metadata(raw: RawMetadata) -> None:
    """Validate with packaging; raise InvalidInput listing every problem found."""
    _validate(raw, [])


def _decode(data: bytes) -> str:
    # Core metadata spec: "strings must be serialised using the UTF-8 encoding"; pip and uv
    # fail on anything else, long after the upload was accepted.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"Invalid metadata: it is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}"
            f" cannot be decoded). Core metadata must be UTF-8 encoded ({CORE_METADATA_SPEC});"
            " rebuild the distribution with a current build backend."
        ) from exc


@functools.cache
def _known_field(header: str) -> bool:
    """Whether packaging reads ``header`` (lowercased) as a core metadata field."""
    raw, _unparsed = parse_email(f"{header}: a, b\n")
    return bool(raw)


def parse_core_metadata(data: bytes) -> RawMetadata:
    """Parse and validate a METADATA / PKG-INFO file; unknown fields are ignored."""
    raw, unparsed = parse_email(_decode(data))
    # packaging puts a known field it could not read (given twice, or malformed) in
    # ``unparsed``; dropping it silently would store metadata other than the file's.
    _validate(raw, [f"{key!r} has invalid data" for key in sorted(unparsed) if _known_field(key)])
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
