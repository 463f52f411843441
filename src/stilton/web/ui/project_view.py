"""What a project page shows: a release's files (sizes, hashes, upload times, yanks), its
core metadata (requires-python, dependencies, README), the project's versions, and for a
project that comes from a proxy, which upstream page it is and when it was last confirmed.
Made once per project, version and change, and checked against the reader on every view."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup
from packaging.utils import canonicalize_version
from packaging.version import Version
from starlette.concurrency import run_in_threadpool

from stilton.core.errors import NotFound, StiltonError
from stilton.core.index_config import IndexConfig
from stilton.core.model import DistributionFile, IndexKind, ProjectDetail, ProjectStatus
from stilton.core.names import IndexName, ProjectName
from stilton.core.upstream import redact_url
from stilton.core.urls import file_path
from stilton.core.versions import version_sort_key
from stilton.indexes.base import Index, ProjectView, Staleness
from stilton.storage import upstream_cache
from stilton.storage.search import SearchDoc
from stilton.web.ui.state import UiState

logger = logging.getLogger("stilton.ui")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a proxy's page of the project comes from."""

    index: str
    page_url: str  # the upstream's page of the project, without credentials
    checked_at: datetime | None  # when the upstream last sent or confirmed it


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: str
    yanked: bool
    uploaded: datetime | None


@dataclass(frozen=True, slots=True)
class ProjectPage:
    detail: ProjectDetail
    version: str | None  # the release shown (None: a project with no files, e.g. quarantined)
    files: tuple[DistributionFile, ...]
    versions: tuple[VersionRow, ...]  # newest first
    info: dict[str, Any]
    readme: Markup | None
    origins: tuple[Origin, ...]
    stale: Staleness | None
    sources: frozenset[IndexName] = field(default_factory=frozenset)

    @property
    def weight(self) -> int:
        return 400 * len(self.detail.files) + len(self.readme or "") + 4000

    @property
    def quarantined(self) -> bool:
        return self.detail.status is ProjectStatus.QUARANTINED

    def file_url(self, file: DistributionFile) -> str:
        return file_path(self.detail.index, file.sha256, file.filename)


def _versions(detail: ProjectDetail) -> tuple[VersionRow, ...]:
    rows = []
    for version in sorted(detail.versions, key=version_sort_key, reverse=True):
        files = [f for f in detail.files if f.version == version]
        times = [f.upload_time for f in files if f.upload_time]
        yanked = bool(files) and all(f.yanked for f in files)
        rows.append(VersionRow(version, yanked, min(times) if times else None))
    return tuple(rows)


def _rank(version: str, yanked: bool) -> tuple[bool, bool, tuple[int, Version | str]]:
    key = version_sort_key(version)
    prerelease = isinstance(key[1], Version) and key[1].is_prerelease
    return (not yanked, not prerelease, key)


def shown_version(versions: tuple[VersionRow, ...], asked: str | None) -> str | None:
    """The release asked for (by its canonical form), else PyPI's latest: not yanked first,
    then final releases, then the highest."""
    if asked is not None:
        wanted = canonicalize_version(asked)
        for row in versions:
            if row.version == asked or canonicalize_version(row.version) == wanted:
                return row.version
        raise NotFound(f"There is no release {asked!r} of this project here.")
    if not versions:
        return None
    return max(versions, key=lambda row: _rank(row.version, row.yanked)).version


async def _info(index: Index, detail: ProjectDetail, version: str, base_url: str) -> dict[str, Any]:
    """The release's core metadata: kept with a hosted release; from the JSON API document
    (the upstream's, or built from the wheel's metadata) for a proxy's."""
    release = detail.releases.get(version)
    if release is not None and release.metadata:
        return dict(release.metadata)
    try:
        document = json.loads(await index.project_json(detail.name, version, base_url))
    except (StiltonError, ValueError) as exc:
        logger.info("no metadata for %s %s in %s: %s", detail.name, version, index.name, exc)
        return {}
    info = document.get("info") if isinstance(document, dict) else None
    return info if isinstance(info, dict) else {}


def _origins(ui: UiState, index: Index, view: ProjectView) -> tuple[Origin, ...]:
    proxies = [
        leaf
        for leaf in index.leaves()
        if leaf.kind is IndexKind.PROXY and (leaf.name == index.name or leaf.name in view.sources)
    ]
    origins = []
    for proxy in proxies[:1] if index.kind is IndexKind.PROXY else proxies:
        upstream = IndexConfig.from_mapping(proxy.record.config).upstream
        if upstream is None:
            continue
        with ui.web.runtime.database.connect() as connection:
            checked = upstream_cache.find_checked_at(connection, proxy.record, view.detail.name)
        page_url = redact_url(upstream.url.rstrip("/") + f"/{view.detail.name}/")
        origins.append(Origin(proxy.name, page_url, checked))
    return tuple(origins)


def _text(info: dict[str, Any], key: str) -> str | None:
    value = info.get(key)
    return str(value) if value else None


async def build_page(
    ui: UiState, index: Index, view: ProjectView, asked: str | None, base_url: str
) -> ProjectPage:
    detail = view.detail
    versions = _versions(detail)
    version = shown_version(versions, asked) if not _quarantined(detail) else None
    info = await _info(index, detail, version, base_url) if version else {}
    description = _text(info, "description")
    readme = (
        ui.readmes.render(description, _text(info, "description_content_type"))
        if description
        else None
    )
    origins = await run_in_threadpool(_origins, ui, index, view)
    if version and origins and index.kind is IndexKind.PROXY:
        uploads = [f.upload_time for f in detail.files if f.upload_time]
        doc = SearchDoc(
            index.name, detail.name, detail.display_name, _text(info, "summary"),
            versions[0].version if versions else None, max(uploads) if uploads else None,
        )  # fmt: skip
        await run_in_threadpool(ui.search.learnt, doc)
    return ProjectPage(
        detail,
        version,
        tuple(f for f in detail.files if f.version == version),
        versions,
        info,
        readme,
        origins,
        view.stale,
        view.sources,
    )


def _quarantined(detail: ProjectDetail) -> bool:
    return detail.status is ProjectStatus.QUARANTINED


def page_key(name: ProjectName, version: str | None) -> tuple[str, Any]:
    return ("project", (name, version))
