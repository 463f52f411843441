"""An index seen through its policy: denied projects answer 404 saying so, hidden files are
absent from every page, file URL, metadata URL and JSON document (``core.policies``), and a
project the policy denies cannot be uploaded to it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from stilton.core.errors import InvalidInput, NotFound
from stilton.core.filenames import parse_distribution_filename
from stilton.core.model import IndexKind, ProjectDetail
from stilton.core.names import IndexName, ProjectName
from stilton.core.policies import Policy
from stilton.core.versions import version_sort_key
from stilton.indexes.base import (
    FileListing,
    FileStream,
    Index,
    ProjectList,
    ProjectView,
    StoredBlob,
    Uploader,
    UploadOutcome,
    listing_of,
)
from stilton.indexes.spool import SpooledFile
from stilton.storage.catalog import IndexRecord


class PolicyIndex:
    def __init__(self, inner: Index, policy: Policy) -> None:
        self.inner = inner
        self.policy = policy

    @property
    def record(self) -> IndexRecord:
        return self.inner.record

    @property
    def name(self) -> IndexName:
        return self.inner.name

    @property
    def kind(self) -> IndexKind:
        return self.inner.kind

    def uploads(self) -> Uploader | None:
        inner = self.inner.uploads()
        return PolicyUploader(inner, self.policy, self.name) if inner is not None else None

    def leaves(self) -> Sequence[Index]:
        return self.inner.leaves()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _check_project(self, name: ProjectName) -> None:
        if not self.policy.project_allowed(name):
            raise NotFound(self.policy.deny_reason(name))

    async def list_projects(self, within: frozenset[IndexName] | None = None) -> ProjectList:
        listing = await self.inner.list_projects(within)
        allowed = [p for p in listing.projects if self.policy.project_allowed(p.name)]
        return replace(listing, projects=allowed)

    async def find_project(self, name: ProjectName) -> ProjectView | None:
        self._check_project(name)
        view = await self.inner.find_project(name)
        if view is None:
            return None
        detail, matures_in = self.policy.apply(view.detail, datetime.now(UTC))
        fresh_for = min((t for t in (view.fresh_for, matures_in) if t is not None), default=None)
        return replace(view, detail=detail, fresh_for=fresh_for)

    async def find_listing(self, name: ProjectName, filename: str) -> FileListing:
        # A policy judges a file against the whole page (its newest versions, its cooldowns).
        return listing_of(await self.find_project(name), filename)

    async def _check_file(self, sha256: str, filename: str) -> None:
        try:
            project = parse_distribution_filename(filename).project
        except InvalidInput as exc:
            raise NotFound(f"No file {filename!r} in index {self.name!r}.") from exc
        if (await self.find_listing(project, filename)).sha256 != sha256:
            raise NotFound(f"{filename!r} is not offered by index {self.name!r} (its policy).")

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | FileStream:
        await self._check_file(sha256, filename)
        return await self.inner.open_file(sha256, filename)

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        await self._check_file(sha256, filename)
        return await self.inner.open_metadata(sha256, filename)

    async def project_json(self, name: ProjectName, version: str | None, base_url: str) -> bytes:
        """The inner document, keeping only the releases and files the policy shows."""
        view = await self.find_project(name)
        if view is None:
            raise NotFound(f"Project {name!r} is not in index {self.name!r}.")
        visible = {f.filename for f in view.detail.files}
        chosen = version or _latest(view.detail)
        if chosen is None or not any(f.version == chosen for f in view.detail.files):
            raise NotFound(f"Project {name!r} has no release {version!r} offered by this index.")
        document = json.loads(await self.inner.project_json(name, chosen, base_url))
        document["urls"] = [f for f in document.get("urls", []) if f.get("filename") in visible]
        if version is None:
            everything = json.loads(await self.inner.project_json(name, None, base_url))
            releases = {
                v: [f for f in files if f.get("filename") in visible]
                for v, files in everything.get("releases", {}).items()
            }
            document["releases"] = {v: files for v, files in releases.items() if files}
        return json.dumps(document, separators=(",", ":")).encode()


class PolicyUploader:
    """Uploads through a policy: a project the index hides could be stored but never served,
    so its uploads are refused (as PyPI refuses a prohibited name, with a 400)."""

    def __init__(self, inner: Uploader, policy: Policy, index: IndexName) -> None:
        self.inner = inner
        self.policy = policy
        self.index = index

    def upload(
        self,
        spooled: SpooledFile,
        fields: Mapping[str, Sequence[str]],
        actor: str,
        address: str = "",
    ) -> UploadOutcome:
        try:
            project = parse_distribution_filename(spooled.filename).project
        except InvalidInput:
            project = None  # the inner index refuses the filename, in its own words
        if project is not None and not self.policy.project_allowed(project):
            spooled.discard()
            raise InvalidInput(
                f"Project {project!r} cannot be uploaded to index {self.index!r}:"
                f" {self.policy.deny_reason(project)} The index would never serve it; change"
                " the policy, or upload to another index."
            )
        return self.inner.upload(spooled, fields, actor, address)


def _latest(detail: ProjectDetail) -> str | None:
    """PyPI's "latest": non-yanked first, then final releases, then the highest version."""

    def rank(version: str) -> tuple[bool, bool, object]:
        files = [f for f in detail.files if f.version == version]
        key = version_sort_key(version)
        prerelease = getattr(key[1], "is_prerelease", False)
        return (not all(f.yanked for f in files), not prerelease, key)

    candidates = {f.version for f in detail.files}
    return max(candidates, key=rank) if candidates else None
