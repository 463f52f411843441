"""Renderers of the Simple API: PEP 503 HTML and PEP 691 JSON, project list and detail.

HTML follows PEP 503/592/629/658/714/740/792 (frozen by PEP 833); JSON adds PEP 700 fields.
Both are the inverse of what ``pypi_simple`` parses, and are tested by round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

import msgspec
import orjson

from stilton.core.model import (
    DistributionFile,
    FileFields,
    FileTable,
    ProjectDetail,
    ProjectStatus,
    ProjectSummary,
)
from stilton.core.names import IndexName
from stilton.core.urls import file_path

API_VERSION = "1.4"
# PEP 700 upload times are written straight from the datetime (by msgspec in a page's files, by
# orjson with these options elsewhere, to the same bytes): UTC with a "Z", the fraction only
# where there is one (``yyyy-mm-ddThh:mm:ss[.ffffff]Z``); a stored time without a zone is UTC.
# Formatting 15,000 of them by hand took a third of a big page's rendering.
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
_ENCODER = msgspec.json.Encoder()


def format_upload_time(moment: datetime) -> str:
    """PEP 700: ``yyyy-mm-ddThh:mm:ss.ffffffZ`` in UTC."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    # By hand: strftime() costs several times more, which shows on pages of 15,000 files.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def _html_page(title: str, head_extra: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset="utf-8">\n'
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"{head_extra}"
        f"    <title>{escape(title)}</title>\n  </head>\n  <body>\n{body}  </body>\n</html>\n"
    ).encode()


def render_project_list_html(projects: Iterable[ProjectSummary]) -> bytes:
    # Relative hrefs work under both /<index>/simple/ and the /simple/ alias.
    anchors = "".join(
        f'    <a href="{project.name}/">{escape(project.display_name)}</a>\n'
        for project in projects
    )
    return _html_page("Simple index", "", anchors)


def render_project_list_json(projects: Iterable[ProjectSummary], last_serial: int) -> bytes:
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": last_serial},
        "projects": [
            {"name": project.display_name, "_last-serial": project.last_serial}
            for project in projects
        ],
    }
    return orjson.dumps(document)


def file_anchor(index: IndexName, fields: FileFields) -> str:
    """A file's PEP 503 anchor."""
    filename, sha256, _size, _upload_time, requires_python, yanked, metadata, provenance_url = (
        fields
    )
    href = f"{file_path(index, sha256, filename)}#sha256={sha256}"
    attributes = [f'href="{escape(href)}"']
    if requires_python:
        # PEP 503: data-requires-python is HTML-escaped (">=" becomes "&gt;=").
        attributes.append(f'data-requires-python="{escape(requires_python)}"')
    if yanked is not False:
        # PEP 592: presence of the attribute is the signal; an empty value is a bare yank.
        reason = yanked if type(yanked) is str else ""
        attributes.append(f'data-yanked="{escape(reason)}"')
    if metadata is not False:
        # PEP 714 name, and the PEP 658 name with the same value for older clients. Absent,
        # never "false": pip takes any value but "true" or a hash as "present".
        value = f"sha256={metadata}" if type(metadata) is str else "true"
        attributes.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
    if provenance_url:
        attributes.append(f'data-provenance="{escape(provenance_url)}"')
    return f"    <a {' '.join(attributes)}>{escape(filename)}</a><br />\n"


def _status_meta(detail: ProjectDetail) -> str:
    meta = f'    <meta name="pypi:project-status" content="{detail.status.value}">\n'
    if detail.status_reason:
        meta += (
            '    <meta name="pypi:project-status-reason" '
            f'content="{escape(detail.status_reason)}">\n'
        )
    return meta


def _served_files(detail: ProjectDetail) -> Sequence[DistributionFile]:
    # PEP 792: an index MUST NOT offer any file of a quarantined project.
    return () if detail.status is ProjectStatus.QUARANTINED else detail.files


def render_project_detail_html(detail: ProjectDetail) -> bytes:
    body = f"    <h1>Links for {escape(detail.name)}</h1>\n"
    body += "".join(file_anchor(detail.index, fields) for fields in _served_fields(detail))
    return _html_page(f"Links for {detail.name}", _status_meta(detail), body)


class FileEntry(msgspec.Struct, omit_defaults=True, gc=False):
    """A file's PEP 691 entry, as msgspec writes it (a third faster than a dict per file,
    which shows on pages of 15,000 files). Optional fields are left out when None."""

    filename: str
    url: str
    hashes: dict[str, str]
    # PEP 714: "core-metadata", plus PyPI's legacy twin; never "dist-info-metadata",
    # which crashes pip 22.3-23.1.
    core_metadata: bool | dict[str, str] = msgspec.field(name="core-metadata")
    data_dist_info_metadata: bool | dict[str, str] = msgspec.field(name="data-dist-info-metadata")
    yanked: bool | str
    size: int | None = None
    # A datetime in UTC (written as orjson writes it with ``JSON_OPTIONS``) or that string.
    upload_time: datetime | str | None = msgspec.field(default=None, name="upload-time")
    requires_python: str | None = msgspec.field(default=None, name="requires-python")
    provenance: str | None = None


def file_json(index: IndexName, fields: FileFields) -> FileEntry:
    """A file's PEP 691 entry."""
    filename, sha256, size, upload_time, requires_python, yanked, metadata, provenance_url = fields
    core_metadata = {"sha256": metadata} if isinstance(metadata, str) else metadata
    if type(upload_time) is datetime and upload_time.tzinfo is None:
        upload_time = upload_time.replace(tzinfo=UTC)  # a stored time without a zone is UTC
    return FileEntry(
        filename,
        file_path(index, sha256, filename),
        {"sha256": sha256},
        core_metadata,
        core_metadata,
        yanked,
        size,
        upload_time,
        requires_python or None,
        provenance_url or None,
    )


def file_fields(file: DistributionFile) -> FileFields:
    moment = file.upload_time
    return (
        file.filename,
        file.sha256,
        file.size,
        moment.astimezone(UTC) if moment is not None and moment.utcoffset() else moment,
        file.requires_python,
        (file.yanked_reason or True) if file.yanked else False,
        (file.metadata_sha256 or True) if file.has_metadata else False,
        file.provenance_url,
    )


def _served_fields(detail: ProjectDetail) -> Iterable[FileFields]:
    files = _served_files(detail)
    if isinstance(files, FileTable):
        return files.fields()  # without an object per file
    return map(file_fields, files)


def render_project_detail_json(detail: ProjectDetail) -> bytes:
    status: dict[str, str] = {"status": detail.status.value}
    if detail.status_reason:
        status["reason"] = detail.status_reason
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": detail.last_serial},
        "name": detail.name,
        "project-status": status,
        "versions": list(detail.versions),
        "files": [file_json(detail.index, fields) for fields in _served_fields(detail)],
    }
    return _ENCODER.encode(document)
