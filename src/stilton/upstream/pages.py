"""Upstream project pages: PEP 691 JSON, PEP 503 HTML, or one find-links page, parsed with
pypi_simple into the files a proxy can offer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from pypi_simple import DistributionPackage, ProjectPage

from stilton.core.errors import InvalidInput, UpstreamError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.core.upstream import redact_url

JSON_TYPES = ("application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json")
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html", "application/xhtml+xml")


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
    """Only wheels and sdists of this very project are offered; anything else is skipped."""
    try:
        dist = parse_distribution_filename(package.filename)
    except InvalidInput:
        return None
    if dist.project != project:
        return None
    sha256 = package.digests.get("sha256")
    metadata_sha256 = (package.metadata_digests or {}).get("sha256")
    return UpstreamFile(
        filename=package.filename,
        url=package.url,
        version=str(dist.version) if package.version is None else package.version,
        sha256=sha256.lower() if sha256 else None,
        size=package.size,
        upload_time=package.upload_time,
        requires_python=package.requires_python or None,
        yanked=package.is_yanked,
        yanked_reason=package.yanked_reason or None,
        has_metadata=bool(package.has_metadata) and dist.is_wheel,
        metadata_sha256=metadata_sha256.lower() if metadata_sha256 and dist.is_wheel else None,
        provenance_url=package.provenance_url,
    )


def _status(page: ProjectPage) -> ProjectStatus:
    raw = getattr(page.status, "value", page.status)
    try:
        return ProjectStatus(str(raw)) if raw else ProjectStatus.ACTIVE
    except ValueError:
        return ProjectStatus.ACTIVE


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def parse_project_page(
    project: ProjectName, body: bytes, content_type: str, url: str, serial: int | None
) -> UpstreamPage:
    """Parse by the Content-Type the upstream declared; refuse anything else."""
    media_type = content_type.split(";")[0].strip().lower()
    try:
        if media_type in JSON_TYPES:
            page = ProjectPage.from_json_data(json.loads(body), base_url=url)
        elif media_type in HTML_TYPES:
            page = ProjectPage.from_html(project, body, base_url=url)
        else:
            raise UpstreamError(
                f"The upstream sent {content_type or 'no Content-Type'} for {redact_url(url)};"
                " expected a Simple API page (JSON or HTML)."
            )
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamError(
            f"The upstream's page at {redact_url(url)} cannot be parsed: {exc}"
        ) from exc
    files = tuple(f for f in (_file(p, project) for p in page.packages) if f is not None)
    return UpstreamPage(
        project=project,
        files=files,
        serial=serial if serial is not None else _int(page.last_serial),
        status=_status(page),
        status_reason=page.status_reason,
        versions=tuple(page.versions or ()),
    )
