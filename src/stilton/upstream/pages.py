"""Upstream project pages: PEP 691 JSON, PEP 503 HTML, or one find-links page, parsed with
pypi_simple into the files a proxy can offer.

An upstream page is untrusted input: anything that cannot be parsed is an ``UpstreamError``
naming the page, and a link that cannot be offered safely (another project's file, a URL that
is not http(s), a malformed digest, a number that fits no database column) is dropped or
cleaned, never passed on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pypi_simple import DistributionPackage, ProjectPage, UnsupportedRepoVersionError

from stilton.core.errors import InvalidInput, UpstreamError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.core.upstream import origin_of, redact_url

logger = logging.getLogger("stilton.upstream")

JSON_TYPES = ("application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json")
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html", "application/xhtml+xml")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MAX_COUNT = 2**63 - 1  # sizes and serials are stored as 64-bit integers
# What a hostile page can make the parsers raise; each becomes an UpstreamError.
PARSE_ERRORS = (ValueError, KeyError, TypeError, RecursionError, UnsupportedRepoVersionError)


@dataclass(frozen=True, slots=True)
class UpstreamFile:
    filename: str
    url: str  # absolute
    version: str
    sha256: str | None
    size: int | None = None
    upload_time: datetime | None = None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    has_metadata: bool = False
    metadata_sha256: str | None = None
    provenance_url: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    project: ProjectName
    files: tuple[UpstreamFile, ...]
    serial: int | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    status_reason: str | None = None
    versions: tuple[str, ...] = field(default_factory=tuple)


def _file(package: DistributionPackage, project: ProjectName) -> UpstreamFile | None:
    """Only wheels and sdists of this very project, at http(s) URLs, are offered."""
    try:
        dist = parse_distribution_filename(package.filename)
    except InvalidInput:
        return None
    if dist.project != project or origin_of(package.url) is None:
        return None
    provenance = package.provenance_url
    return UpstreamFile(
        filename=package.filename,
        url=package.url,
        version=str(dist.version) if package.version is None else package.version,
        sha256=_sha256(package.digests),
        size=_count(package.size),
        upload_time=package.upload_time,
        requires_python=_text(package.requires_python),
        yanked=package.is_yanked,
        yanked_reason=_text(package.yanked_reason),
        has_metadata=bool(package.has_metadata) and dist.is_wheel,
        metadata_sha256=_sha256(package.metadata_digests) if dist.is_wheel else None,
        provenance_url=provenance if provenance and origin_of(provenance) else None,
    )


def _sha256(digests: dict[str, str] | None) -> str | None:
    """A well-formed sha256, lowercased; a malformed one counts as none (the proxy then
    computes the digest itself)."""
    value = (digests or {}).get("sha256")
    return value.lower() if isinstance(value, str) and SHA256.fullmatch(value) else None


def _count(value: object) -> int | None:
    """A non-negative integer that fits a database column, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_COUNT else None


def _text(value: str | None) -> str | None:
    """Free text without NUL characters (which PostgreSQL cannot store); empty means none."""
    return (value or "").replace("\x00", "") or None


def _unique(files: Iterable[UpstreamFile], url: str) -> tuple[UpstreamFile, ...]:
    """One file per filename (the database, and every client, expect no more). A repeated link
    that agrees with the first, or lacks a sha256, is dropped and the first kept. Links that
    disagree on the sha256 are all dropped: there is no telling which bytes are meant, and
    offering either could serve the wrong ones."""
    first: dict[str, UpstreamFile] = {}
    conflicting: set[str] = set()
    for file in files:
        kept = first.setdefault(file.filename, file)
        if kept.sha256 and file.sha256 and kept.sha256 != file.sha256:
            conflicting.add(file.filename)
    for filename in sorted(conflicting):
        logger.warning(
            "dropping %s: the upstream page %s links it with different sha256 digests",
            filename,
            redact_url(url),
        )
    return tuple(f for name, f in first.items() if name not in conflicting)


def _status(page: ProjectPage) -> ProjectStatus:
    raw = getattr(page.status, "value", page.status)
    try:
        return ProjectStatus(str(raw)) if raw else ProjectStatus.ACTIVE
    except ValueError:
        return ProjectStatus.ACTIVE


def parse_project_page(
    project: ProjectName, body: bytes, content_type: str, url: str, serial: int | None
) -> UpstreamPage:
    """Parse by the Content-Type the upstream declared; refuse anything else."""
    page = _parse(project, body, content_type, url)
    try:
        files = _unique((f for f in (_file(p, project) for p in page.packages) if f), url)
        versions = tuple(v for v in page.versions or () if isinstance(v, str))
    except PARSE_ERRORS as exc:
        raise _unparsable(url, exc) from exc
    return UpstreamPage(
        project=project,
        files=files,
        serial=serial if serial is not None else _count(page.last_serial),
        status=_status(page),
        status_reason=_text(page.status_reason),
        versions=versions,
    )


def _parse(project: ProjectName, body: bytes, content_type: str, url: str) -> ProjectPage:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in JSON_TYPES + HTML_TYPES:
        raise UpstreamError(
            f"The upstream sent {content_type or 'no Content-Type'} for {redact_url(url)};"
            " expected a Simple API page (JSON or HTML)."
        )
    try:
        if media_type in JSON_TYPES:
            return ProjectPage.from_json_data(json.loads(body), base_url=url)
        return ProjectPage.from_html(project, body, base_url=url)
    except PARSE_ERRORS as exc:
        raise _unparsable(url, exc) from exc


def _unparsable(url: str, exc: BaseException) -> UpstreamError:
    reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    return UpstreamError(
        f"The upstream's page at {redact_url(url)} cannot be parsed: {reason[:500]}"
    )
