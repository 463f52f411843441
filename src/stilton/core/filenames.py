"""Distribution filenames: parse a wheel or sdist name into project, version and kind."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from stilton.core.errors import InvalidInput
from stilton.core.names import ProjectName, normalize_project_name


class PackageType(StrEnum):
    """The Warehouse ``packagetype`` / upload ``filetype`` of a distribution."""

    SDIST = "sdist"
    WHEEL = "bdist_wheel"


SDIST_SUFFIXES = (".tar.gz", ".zip")
# Anything but a plain basename: separators, parent references, control characters.
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|\.\.")


def _is_plain(filename: str) -> bool:
    """A name of at most 255 characters that ``_UNSAFE`` finds nothing in. Printable ASCII
    (nearly every name) is checked with a few scans, several times faster than the pattern,
    which shows on pages of 15,000 files."""
    if not filename or len(filename) > 255:
        return False
    if filename.isascii() and filename.isprintable():
        return not (filename[0] == "." or "/" in filename or "\\" in filename or ".." in filename)
    return _UNSAFE.search(filename) is None


@dataclass(frozen=True, slots=True)
class DistributionFilename:
    """A checked distribution filename and what it says."""

    filename: str
    project: ProjectName
    version: Version
    packagetype: PackageType
    python_version: str  # PEP 427 python tag of a wheel; "source" for an sdist

    @property
    def is_wheel(self) -> bool:
        return self.packagetype is PackageType.WHEEL


def check_safe_filename(filename: str) -> str:
    """Refuse names that could escape a directory or confuse a path."""
    if not _is_plain(filename):
        raise InvalidInput(
            f"Invalid distribution file name {filename!r}: a plain file name is required"
            " (no path separators, no '..', no leading dot, no control characters)."
        )
    return filename


class FilenameMatcher:
    """Which filenames are safe wheels or sdists of one project, and their versions: what
    ``parse_distribution_filename`` decides, at a fraction of its cost for the thousands of
    files of one page (names and versions repeat across a page's files, so each is checked
    once; wheel tags are not parsed)."""

    def __init__(self, project: ProjectName) -> None:
        self.project = project
        self._names: dict[str, bool] = {}
        self._versions: dict[str, bool] = {}

    def match(self, filename: str) -> str | None:
        """The version of ``filename``, if it is a distribution file of this project."""
        found = self.kind(filename)
        return found[0] if found is not None else None

    def kind(self, filename: str) -> tuple[str, PackageType, str] | None:
        """The version, package type and python tag (``quick_kind``) of ``filename``, if it is
        a distribution file of this project."""
        if not _is_plain(filename):
            return None
        if filename.endswith(".whl"):
            parts = filename[:-4].split("-")
            # PEP 427: {name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}
            if len(parts) not in (5, 6) or not self._is_project(parts[0]):
                return None
            if not self._is_version(parts[1]):
                return None
            return parts[1], PackageType.WHEEL, parts[-3]
        for suffix in SDIST_SUFFIXES:
            if filename.endswith(suffix):
                version = self._sdist_version(filename[: -len(suffix)])
                return (version, PackageType.SDIST, "source") if version is not None else None
        return None

    def _sdist_version(self, stem: str) -> str | None:
        # The name may hold dashes itself (legacy sdists): find where the project's name ends.
        start = 0
        while (dash := stem.find("-", start)) > 0:
            if self._is_project(stem[:dash]):
                version = stem[dash + 1 :]
                return version if self._is_version(version) else None
            start = dash + 1
        return None

    def _is_project(self, name: str) -> bool:
        known = self._names.get(name)
        if known is None:
            try:
                known = normalize_project_name(name) == self.project
            except InvalidInput:
                known = False
            self._names[name] = known
        return known

    def _is_version(self, version: str) -> bool:
        known = self._versions.get(version)
        if known is None:
            try:
                Version(version)
                known = True
            except InvalidVersion:
                known = False
            self._versions[version] = known
        return known


def quick_kind(filename: str) -> tuple[PackageType, str]:
    """The package type and python tag of a filename that ``parse_distribution_filename``
    accepted before (cheap: no version or tag parsing, for pages of thousands of files)."""
    if filename.endswith(".whl"):
        # PEP 427: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
        return PackageType.WHEEL, filename[:-4].split("-")[-3]
    return PackageType.SDIST, "source"


def parse_distribution_filename(filename: str) -> DistributionFilename:
    """Parse a wheel (PEP 427) or sdist (PEP 625, plus legacy ``.zip``) filename."""
    check_safe_filename(filename)
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            python = ".".join(sorted({tag.interpreter for tag in tags}))
            return DistributionFilename(
                filename, normalize_project_name(name), version, PackageType.WHEEL, python
            )
        if filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return DistributionFilename(
                filename, normalize_project_name(name), version, PackageType.SDIST, "source"
            )
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidInput(f"Invalid distribution file name {filename!r}: {exc}") from exc
    raise InvalidInput(
        f"Invalid distribution file name {filename!r}: expected a wheel (.whl) or an sdist"
        " (.tar.gz or .zip)."
    )
