"""The URL shapes Stilton serves (DESIGN.md, "URL map"), built only from checked names."""

from __future__ import annotations

import re
from urllib.parse import quote

from stilton.core.names import IndexName, ProjectName

METADATA_SUFFIX = ".metadata"  # PEP 658: core metadata lives at the file URL + ".metadata"
# Characters quote() leaves alone: a name of only these is its own quoted form (most filenames;
# a page of 15,000 links would otherwise spend most of its rendering time quoting).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def simple_root_path(index: IndexName) -> str:
    return f"/{index}/simple/"


def simple_project_path(index: IndexName, project: ProjectName) -> str:
    return f"/{index}/simple/{project}/"


def file_path(index: IndexName, sha256: str, filename: str) -> str:
    # No query string: pip, uv and poetry each append ".metadata" differently around one.
    quoted = filename if _UNRESERVED.fullmatch(filename) else quote(filename)
    return f"/{index}/files/{sha256}/{quoted}"


def metadata_path(index: IndexName, sha256: str, filename: str) -> str:
    return file_path(index, sha256, filename) + METADATA_SUFFIX


def json_api_path(index: IndexName, project: ProjectName, version: str | None = None) -> str:
    if version is None:
        return f"/{index}/pypi/{project}/json"
    return f"/{index}/pypi/{project}/{quote(version)}/json"
