"""The URL shapes Stilton serves (DESIGN.md, "URL map"), built only from checked names."""

from __future__ import annotations

from urllib.parse import quote

from stilton.core.names import IndexName, ProjectName

METADATA_SUFFIX = ".metadata"  # PEP 658: core metadata lives at the file URL + ".metadata"


def simple_root_path(index: IndexName) -> str:
    return f"/{index}/simple/"


def simple_project_path(index: IndexName, project: ProjectName) -> str:
    return f"/{index}/simple/{project}/"


def file_path(index: IndexName, sha256: str, filename: str) -> str:
    # No query string: pip, uv and poetry each append ".metadata" differently around one.
    return f"/{index}/files/{sha256}/{quote(filename)}"


def metadata_path(index: IndexName, sha256: str, filename: str) -> str:
    return file_path(index, sha256, filename) + METADATA_SUFFIX


def json_api_path(index: IndexName, project: ProjectName, version: str | None = None) -> str:
    if version is None:
        return f"/{index}/pypi/{project}/json"
    return f"/{index}/pypi/{project}/{quote(version)}/json"
