"""Which files of an upstream project page a mirror takes: the file filters (package type,
wheel tags, size, Requires-Python of the targets), then the versions each requirement allows.

For every requirement on a project the newest ``--latest`` N matching versions are taken, and
the newest N matching all of the project's requirements at once, so that the version an
installer picks where requirements meet (a diamond) is there too. Pre-releases count as pip
counts them: when asked for, when a specifier names one, or when nothing else matches. A yanked
file is only taken for a version some requirement pins with ``==`` (PEP 592).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from stilton.core.filenames import PackageType, quick_kind
from stilton.core.names import ProjectName
from stilton.mirror.config import FileFilters
from stilton.mirror.targets import Targets
from stilton.upstream.model import UpstreamFile


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file left out by a filter, and which one (for the report)."""

    filename: str
    reason: str


@dataclass(frozen=True, slots=True)
class Selection:
    files: tuple[UpstreamFile, ...]
    unsatisfied: tuple[str, ...]  # one sentence per requirement no version satisfies
    skipped: tuple[Skipped, ...]


def project_allowed(project: ProjectName, filters: FileFilters) -> bool:
    """``--allow`` / ``--deny`` globs over normalized project names."""
    if any(fnmatch.fnmatchcase(project, pattern) for pattern in filters.deny):
        return False
    return not filters.allow or any(fnmatch.fnmatchcase(project, p) for p in filters.allow)


def _file_problem(file: UpstreamFile, filters: FileFilters, targets: Targets) -> str | None:
    kind, _python = quick_kind(file.filename)
    if kind not in filters.package_types:
        return f"package type {kind.value} is not mirrored"
    if filters.max_size is not None and file.size is not None and file.size > filters.max_size:
        return f"{file.size} bytes is over --max-size {filters.max_size}"
    if not targets.admits(file.requires_python):
        return f"Requires-Python {file.requires_python} admits no target Python"
    if kind is PackageType.WHEEL:
        return _wheel_problem(file.filename, filters, targets)
    return None


def _wheel_problem(filename: str, filters: FileFilters, targets: Targets) -> str | None:
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return "the wheel filename cannot be parsed"
    if not targets.installs(tags):
        return "no target Python and platform can install it"
    if filters.platform_tags and not any(
        tag.platform == "any" or _matches(tag.platform, filters.platform_tags) for tag in tags
    ):
        return "its platform tags match no --platform-tag"
    if filters.python_tags and not any(
        _matches(tag.interpreter, filters.python_tags) or _matches(tag.abi, filters.python_tags)
        for tag in tags
    ):
        return "its python and ABI tags match no --python-tag"
    return None


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _version(file: UpstreamFile) -> Version | None:
    try:
        return Version(file.version)
    except InvalidVersion:
        return None


def _pins(specifier: SpecifierSet, version: Version) -> bool:
    # PEP 592: a yanked file stays installable for a requirement pinning its very version.
    return any(s.operator in ("==", "===") and s.contains(version) for s in specifier)


def _newest(
    specifier: SpecifierSet,
    by_version: dict[Version, list[UpstreamFile]],
    filters: FileFilters,
) -> list[Version]:
    candidates = [
        version
        for version, files in by_version.items()
        if any(not f.yanked for f in files) or _pins(specifier, version)
    ]
    # None lets packaging decide as pip does (pre-releases only when nothing else matches).
    matching = sorted(specifier.filter(candidates, prereleases=filters.prereleases or None))
    return matching[-filters.latest :] if filters.latest else matching


def select_files(
    project: ProjectName,
    files: Sequence[UpstreamFile],
    requirements: Sequence[Requirement],
    filters: FileFilters,
    targets: Targets,
) -> Selection:
    """The files of ``project`` that ``requirements`` (all naming it) make a mirror take."""
    usable: dict[Version, list[UpstreamFile]] = {}
    every: dict[Version, list[UpstreamFile]] = {}
    skipped: list[Skipped] = []
    for file in files:
        version = _version(file)
        if version is None:
            skipped.append(Skipped(file.filename, f"version {file.version!r} is not PEP 440"))
            continue
        every.setdefault(version, []).append(file)
        problem = _file_problem(file, filters, targets)
        if problem is None:
            usable.setdefault(version, []).append(file)
        else:
            skipped.append(Skipped(file.filename, problem))
    chosen: set[Version] = set()
    unsatisfied: list[str] = []
    for requirement in requirements:
        newest = _newest(requirement.specifier, usable, filters)
        if not newest:
            unsatisfied.append(_why_unsatisfied(project, requirement, every, filters))
        chosen.update(newest)
    combined = SpecifierSet(",".join(str(r.specifier) for r in requirements if r.specifier))
    chosen.update(_newest(combined, usable, filters))
    taken = tuple(
        f
        for version in sorted(chosen)
        for f in usable[version]
        if not f.yanked or any(_pins(r.specifier, version) for r in requirements)
    )
    return Selection(taken, tuple(unsatisfied), tuple(skipped))


def _why_unsatisfied(
    project: ProjectName,
    requirement: Requirement,
    every: dict[Version, list[UpstreamFile]],
    filters: FileFilters,
) -> str:
    wanted = f"{project}{requirement.specifier}" if requirement.specifier else str(project)
    if not every:
        return f"{wanted}: the upstream lists no file of {project}"
    if _newest(requirement.specifier, every, filters):
        return (
            f"{wanted}: matching versions exist upstream, but none has a file the mirror's"
            " filters and target Pythons and platforms take"
        )
    known = ", ".join(str(v) for v in sorted(every)[-5:])
    return f"{wanted}: no version of {project} matches (the newest are {known})"
