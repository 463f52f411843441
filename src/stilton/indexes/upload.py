"""The upload pipeline: each step checks one thing about a spooled file before it is stored.

``check_filename`` → ``parse_upload_form`` (core) → ``verify_digests`` → ``read_metadata``;
the hosted index then runs ``store_file``. Nothing is kept unless every step passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.metadata import RawMetadata

from stilton.core.errors import InvalidInput
from stilton.core.filenames import DistributionFilename, parse_distribution_filename
from stilton.core.metadata import (
    check_metadata_matches,
    check_raw_metadata,
    parse_core_metadata,
    read_sdist_metadata,
    read_wheel_metadata,
    release_info,
)
from stilton.core.upload_form import SentDigests
from stilton.indexes.spool import SpooledFile


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """A spooled file that passed every check, with what the index will record of it."""

    spooled: SpooledFile
    dist: DistributionFilename
    version: str
    metadata_file: bytes | None  # PEP 658 bytes to serve; wheels only
    release_info: dict[str, Any]
    requires_python: str | None
    python_version: str
    comment: str | None = None


def check_filename(spooled: SpooledFile) -> DistributionFilename:
    return parse_distribution_filename(spooled.filename)


def verify_digests(sent: SentDigests, spooled: SpooledFile) -> None:
    if sent.mismatches(spooled.digests):
        raise InvalidInput(
            "The digest supplied does not match a digest calculated from the uploaded file"
            f" ({', '.join(sent.mismatches(spooled.digests))})."
        )


def read_metadata(
    spooled: SpooledFile, dist: DistributionFilename, fallback: RawMetadata | None
) -> tuple[bytes | None, RawMetadata]:
    """The file's own core metadata, checked against its name; ``fallback`` (the upload form)
    stands in only for an sdist that carries no PKG-INFO."""
    with spooled.path.open("rb") as archive:
        if dist.is_wheel:
            data: bytes | None = read_wheel_metadata(archive, dist)
        else:
            data = read_sdist_metadata(archive, dist)
    if data is not None:
        raw = parse_core_metadata(data)
    elif fallback is not None:
        check_raw_metadata(fallback)
        raw = fallback
    else:
        raise InvalidInput(
            f"Invalid distribution file. The sdist {dist.filename!r} has no PKG-INFO, so its"
            " core metadata is unknown."
        )
    check_metadata_matches(raw, dist)
    return (data if dist.is_wheel else None), raw


def check_upload(
    spooled: SpooledFile,
    dist: DistributionFilename,
    fallback: RawMetadata | None = None,
    *,
    python_version: str | None = None,
    comment: str | None = None,
) -> CheckedUpload:
    metadata_file, raw = read_metadata(spooled, dist, fallback)
    return CheckedUpload(
        spooled=spooled,
        dist=dist,
        version=raw.get("version") or str(dist.version),
        metadata_file=metadata_file,
        release_info=release_info(raw),
        requires_python=(raw.get("requires_python") or None),
        python_version=python_version or dist.python_version,
        comment=comment,
    )
