"""Policies on what an index offers: allow and deny lists of projects and files, and a
release-age cooldown. They apply when a page is served, never when a cache is filled, so a
cached page matures without being fetched again.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType
from stilton.core.groups import parse_pattern
from stilton.core.model import DistributionFile, ProjectDetail
from stilton.core.names import ProjectName


class UnknownUploadTime(StrEnum):
    HIDE = "hide"
    SHOW = "show"


@dataclass(frozen=True, slots=True)
class FileRule:
    """Files to deny: every condition given must hold (an empty rule matches nothing)."""

    project: str = "*"
    versions: str | None = None  # a PEP 440 specifier: "<2", ">=1.0,<1.4"
    yanked: bool | None = None
    platform: str | None = None  # a glob over wheel platform tags: "win*", "macosx_*"
    packagetype: PackageType | None = None

    def matches(self, project: ProjectName, file: DistributionFile) -> bool:
        if self == FileRule():
            return False  # an empty rule would deny everything; it denies nothing
        if not fnmatch.fnmatchcase(project, self.project):
            return False
        if self.yanked is not None and file.yanked != self.yanked:
            return False
        if self.packagetype is not None and file.packagetype is not self.packagetype:
            return False
        if self.versions is not None and not _in(file.version, self.versions):
            return False
        return self.platform is None or any(
            fnmatch.fnmatchcase(tag, self.platform) for tag in _platforms(file)
        )

    def to_mapping(self) -> dict[str, Any]:
        values: dict[str, Any] = {"project": self.project}
        if self.versions is not None:
            values["versions"] = self.versions
        if self.yanked is not None:
            values["yanked"] = self.yanked
        if self.platform is not None:
            values["platform"] = self.platform
        if self.packagetype is not None:
            values["packagetype"] = self.packagetype.value
        return values

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FileRule:
        versions = values.get("versions")
        if versions is not None:
            try:
                SpecifierSet(versions)
            except InvalidSpecifier as exc:
                raise InvalidInput(f"{versions!r} is not a version specifier: {exc}") from exc
        packagetype = values.get("packagetype")
        return cls(
            project=parse_pattern(str(values.get("project", "*"))),
            versions=versions,
            yanked=values.get("yanked"),
            platform=values.get("platform"),
            packagetype=PackageType(packagetype) if packagetype else None,
        )


def _in(version: str, specifier: str) -> bool:
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except (InvalidVersion, InvalidSpecifier):
        return False


def _platforms(file: DistributionFile) -> list[str]:
    if file.packagetype is not PackageType.WHEEL:
        return []
    try:
        _name, _version, _build, tags = parse_wheel_filename(file.filename)
    except InvalidWheelFilename:
        return []
    return sorted({tag.platform for tag in tags})


@dataclass(frozen=True, slots=True)
class Policy:
    allow_projects: tuple[str, ...] = ()  # empty: every project is allowed
    deny_projects: tuple[str, ...] = ()
    deny_files: tuple[FileRule, ...] = ()
    cooldown: timedelta | None = None
    cooldown_exempt: tuple[str, ...] = ()
    cutoff: datetime | None = None  # nothing uploaded after this instant is offered
    unknown_upload_time: UnknownUploadTime = UnknownUploadTime.SHOW

    @property
    def is_empty(self) -> bool:
        return self == Policy()

    def project_allowed(self, name: ProjectName) -> bool:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny_projects):
            return False
        return not self.allow_projects or any(
            fnmatch.fnmatchcase(name, pattern) for pattern in self.allow_projects
        )

    def deny_reason(self, name: ProjectName) -> str:
        return f"Project {name!r} is hidden by this index's policy (its allow and deny lists)."

    def _cooling(self, name: ProjectName) -> bool:
        return not any(fnmatch.fnmatchcase(name, p) for p in self.cooldown_exempt)

    def _age_limit(self, now: datetime) -> datetime | None:
        """Files uploaded after this instant are hidden."""
        limits = []
        if self.cooldown is not None:
            limits.append(now - self.cooldown)
        if self.cutoff is not None:
            limits.append(self.cutoff)
        return min(limits) if limits else None

    def file_visible(self, project: ProjectName, file: DistributionFile, now: datetime) -> bool:
        if any(rule.matches(project, file) for rule in self.deny_files):
            return False
        limit = self._age_limit(now) if self._cooling(project) else None
        if limit is None:
            return True
        if file.upload_time is None:
            return self.unknown_upload_time is UnknownUploadTime.SHOW
        return file.upload_time <= limit

    def apply(self, detail: ProjectDetail, now: datetime) -> tuple[ProjectDetail, float | None]:
        """The detail with hidden files (and versions left without files) removed, and how
        many seconds until a hidden file matures (when the page must be made again)."""
        visible = tuple(f for f in detail.files if self.file_visible(detail.name, f, now))
        hidden_versions = {f.version for f in detail.files} - {f.version for f in visible}
        versions = tuple(v for v in detail.versions if v not in hidden_versions)
        releases = {v: r for v, r in detail.releases.items() if v not in hidden_versions}
        filtered = replace(detail, files=visible, versions=versions, releases=releases)
        return filtered, self._seconds_to_maturity(detail.files, visible, now)

    def _seconds_to_maturity(
        self, files: Sequence[DistributionFile], visible: Sequence[DistributionFile], now: datetime
    ) -> float | None:
        if self.cooldown is None:
            return None
        shown = {f.filename for f in visible}
        waits = [
            (f.upload_time + self.cooldown - now).total_seconds()
            for f in files
            if f.filename not in shown
            and f.upload_time is not None
            and f.upload_time + self.cooldown > now
            and (self.cutoff is None or f.upload_time <= self.cutoff)
        ]
        return max(min(waits), 1.0) if waits else None

    def to_mapping(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.allow_projects:
            values["allow_projects"] = list(self.allow_projects)
        if self.deny_projects:
            values["deny_projects"] = list(self.deny_projects)
        if self.deny_files:
            values["deny_files"] = [rule.to_mapping() for rule in self.deny_files]
        if self.cooldown is not None:
            values["cooldown_days"] = self.cooldown.total_seconds() / 86400
        if self.cooldown_exempt:
            values["cooldown_exempt"] = list(self.cooldown_exempt)
        if self.cutoff is not None:
            values["cutoff"] = self.cutoff.isoformat()
        if self.unknown_upload_time is not UnknownUploadTime.SHOW:
            values["unknown_upload_time"] = self.unknown_upload_time.value
        return values

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Policy:
        days = values.get("cooldown_days")
        if days is not None and float(days) < 0:
            raise InvalidInput("The cooldown cannot be negative.")
        return cls(
            allow_projects=tuple(parse_pattern(p) for p in values.get("allow_projects", ())),
            deny_projects=tuple(parse_pattern(p) for p in values.get("deny_projects", ())),
            deny_files=tuple(FileRule.from_mapping(r) for r in values.get("deny_files", ())),
            cooldown=timedelta(days=float(days)) if days else None,
            cooldown_exempt=tuple(parse_pattern(p) for p in values.get("cooldown_exempt", ())),
            cutoff=parse_cutoff(values["cutoff"]) if values.get("cutoff") else None,
            unknown_upload_time=UnknownUploadTime(values.get("unknown_upload_time", "show")),
        )


def parse_cutoff(raw: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{raw!r} is not an ISO 8601 date or date-time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_file_rule(raw: str) -> FileRule:
    """``project=numpy,versions=<1.20,platform=win*,yanked=true,packagetype=sdist``."""
    values: dict[str, Any] = {}
    for part in _split_rule(raw):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in RULE_KEYS:
            raise InvalidInput(
                f"File rule {raw!r}: use project=, versions=, platform=, yanked= or packagetype=."
            )
        values[key] = (
            value.strip().lower() in {"true", "yes", "1"} if key == "yanked" else value.strip()
        )
    return FileRule.from_mapping(values)


RULE_KEYS = ("project", "versions", "platform", "yanked", "packagetype")


def _split_rule(raw: str) -> list[str]:
    """Split on ',' or ';', keeping a specifier's own commas (">=1.0,<1.4") with its key."""
    parts: list[str] = []
    for piece in raw.replace(";", ",").split(","):
        if parts and not piece.strip().startswith(tuple(f"{key}=" for key in RULE_KEYS)):
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return [part for part in parts if part.strip()]
