"""Renderer of the Warehouse JSON API (``/pypi/<project>/json`` and the version form).

Not a standard; shaped like PyPI's (PROTOCOLS.md §2) because poetry, pdm, renovate and
dependabot read it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from packaging.utils import canonicalize_version
from packaging.version import Version

from stilton.core.errors import NotFound
from stilton.core.model import DistributionFile, ProjectDetail, Release
from stilton.core.names import IndexName, ProjectName
from stilton.core.render_simple import format_upload_time
from stilton.core.urls import file_path, json_api_path, simple_project_path
from stilton.core.versions import version_sort_key


def _latest_version(detail: ProjectDetail) -> str:
    """PyPI: non-yanked first, then final releases first, then the highest version."""

    def rank(version: str) -> tuple[bool, bool, tuple[int, Version | str]]:
        release = detail.releases.get(version)
        yanked = release.yanked if release else False
        key = version_sort_key(version)
        prerelease = isinstance(key[1], Version) and key[1].is_prerelease
        return (not yanked, not prerelease, key)

    candidates = [v for v in detail.versions if v in detail.releases]
    if not candidates:
        raise NotFound(f"Project {detail.name!r} has no releases.")
    return max(candidates, key=rank)


def find_release_version(detail: ProjectDetail, version: str) -> str:
    """The stored version string matching ``version`` canonically (PyPI's lookup)."""
    if version in detail.releases:
        return version
    wanted = canonicalize_version(version)
    for candidate in detail.releases:
        if canonicalize_version(candidate) == wanted:
            return candidate
    raise NotFound(f"Project {detail.name!r} has no release {version!r}.")


def _file_json(file: DistributionFile, index: IndexName, base_url: str) -> dict[str, Any]:
    return {
        "filename": file.filename,
        "packagetype": file.packagetype.value,
        "python_version": file.python_version,
        "has_sig": False,
        "comment_text": file.comment or "",
        "md5_digest": file.digests.md5,
        "digests": {
            name: value
            for name, value in (
                ("md5", file.digests.md5),
                ("sha256", file.digests.sha256),
                ("blake2b_256", file.digests.blake2b_256),
            )
            if value
        },
        "core-metadata": (
            {"sha256": file.metadata_sha256} if file.metadata_sha256 else file.has_metadata
        ),
        "size": file.size,
        "downloads": -1,
        "upload_time": (
            file.upload_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            if file.upload_time
            else None
        ),
        "upload_time_iso_8601": format_upload_time(file.upload_time) if file.upload_time else None,
        "url": base_url + file_path(index, file.sha256, file.filename),
        "requires_python": file.requires_python,
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
    }


def _info(detail: ProjectDetail, release: Release, base_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "bugtrack_url": None,
        "docs_url": None,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
    }
    info.update(release.metadata)
    info["name"] = release.metadata.get("name") or detail.display_name
    info["version"] = release.version
    info["package_url"] = base_url + simple_project_path(detail.index, detail.name)
    info["project_url"] = info["package_url"]
    info["release_url"] = base_url + json_api_path(detail.index, detail.name, release.version)
    info["yanked"] = release.yanked
    info["yanked_reason"] = release.yanked_reason
    return info


def _files_of(detail: ProjectDetail, version: str) -> Sequence[DistributionFile]:
    return [file for file in detail.files if file.version == version]


def select_version(detail: ProjectDetail, version: str | None) -> str:
    """The release a document describes: the one asked for, or PyPI's "latest"."""
    return find_release_version(detail, version) if version else _latest_version(detail)


def render_warehouse_json(detail: ProjectDetail, version: str | None, base_url: str) -> bytes:
    """The project document (``version`` None, with ``releases``) or a version document."""
    selected = select_version(detail, version)
    document: dict[str, Any] = {
        "info": _info(detail, detail.releases[selected], base_url),
        "last_serial": detail.last_serial,
    }
    if version is None:
        document["releases"] = {
            v: [_file_json(f, detail.index, base_url) for f in _files_of(detail, v)]
            for v in sorted(detail.releases, key=version_sort_key)
        }
    document["urls"] = [_file_json(f, detail.index, base_url) for f in _files_of(detail, selected)]
    document["vulnerabilities"] = []
    document["ownership"] = {"roles": [], "organization": None}
    return json.dumps(document, separators=(",", ":")).encode()


def rewrite_warehouse_json(
    document: dict[str, Any], index: IndexName, project: ProjectName, base_url: str
) -> bytes:
    """An upstream's JSON API document with every file URL pointing at this index (files
    without a sha256 cannot be served by digest, so they are left out)."""

    def rewrite(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for file in files:
            sha256 = (file.get("digests") or {}).get("sha256")
            filename = file.get("filename")
            if isinstance(sha256, str) and isinstance(filename, str):
                kept.append({**file, "url": base_url + file_path(index, sha256.lower(), filename)})
        return kept

    result = dict(document)
    info = dict(result.get("info") or {})
    info["package_url"] = info["project_url"] = base_url + simple_project_path(index, project)
    if info.get("version"):
        info["release_url"] = base_url + json_api_path(index, project, str(info["version"]))
    result["info"] = info
    result["urls"] = rewrite(list(result.get("urls") or []))
    if "releases" in result:
        result["releases"] = {v: rewrite(list(fs or [])) for v, fs in result["releases"].items()}
    return json.dumps(result, separators=(",", ":")).encode()
