"""A mirror's configuration as stored with it: the upstream, what to select, the target
environments of the dependency closure, the file filters, and how often and how wide to sync.

Everything is checked here, once, when a mirror is added; a stored configuration is read back
with ``MirrorConfig.from_mapping``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType
from stilton.core.upstream import UpstreamConfig

DEFAULT_CONCURRENCY = 8  # files and pages fetched at once
MAX_CONCURRENCY = 64
_DURATION = re.compile(r"(\d+)\s*([smhd]?)", re.ASCII)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``15m``, ``1h``, ``2d`` (or a bare number of seconds)."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if seconds <= 0:
        raise InvalidInput(
            f"{text!r} is not a duration: give a positive number with s, m, h or d (e.g. 1h)."
        )
    return seconds


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_requirement(text: str) -> Requirement:
    """A PEP 508 requirement naming a project on the upstream (not a URL)."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidInput(f"{text!r} is not a valid requirement (PEP 508): {exc}") from exc
    if requirement.url:
        raise InvalidInput(
            f"{text!r} names a URL; a mirror selects projects from its upstream by name."
        )
    return requirement


@dataclass(frozen=True, slots=True)
class FileFilters:
    """bandersnatch-like filters over the files a selection would take."""

    latest: int | None = None  # the newest N versions matching each requirement
    prereleases: bool = False  # also when no requirement names a pre-release explicitly
    package_types: frozenset[PackageType] = frozenset(PackageType)
    platform_tags: tuple[str, ...] = ()  # globs over wheel platform tags; "any" always passes
    python_tags: tuple[str, ...] = ()  # globs over wheel python or ABI tags (cp311, abi3, py3)
    max_size: int | None = None  # bytes; bigger files are skipped (and reported)
    allow: tuple[str, ...] = ()  # project-name globs; empty: every project
    deny: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.latest is not None and self.latest < 1:
            raise InvalidInput("--latest must be 1 or more.")
        if self.max_size is not None and self.max_size < 1:
            raise InvalidInput("--max-size must be a positive number of bytes.")
        if not self.package_types:
            raise InvalidInput("At least one package type (sdist, bdist_wheel) is needed.")

    def to_mapping(self) -> dict[str, Any]:
        return {
            "latest": self.latest,
            "prereleases": self.prereleases,
            "package_types": sorted(t.value for t in self.package_types),
            "platform_tags": list(self.platform_tags),
            "python_tags": list(self.python_tags),
            "max_size": self.max_size,
            "allow": list(self.allow),
            "deny": list(self.deny),
        }

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FileFilters:
        types = values.get("package_types") or [t.value for t in PackageType]
        try:
            package_types = frozenset(PackageType(t) for t in types)
        except ValueError as exc:
            raise InvalidInput(
                f"Unknown package type in {types}; use sdist or bdist_wheel."
            ) from exc
        return cls(
            latest=values.get("latest"),
            prereleases=bool(values.get("prereleases", False)),
            package_types=package_types,
            platform_tags=tuple(values.get("platform_tags") or ()),
            python_tags=tuple(values.get("python_tags") or ()),
            max_size=values.get("max_size"),
            allow=tuple(values.get("allow") or ()),
            deny=tuple(values.get("deny") or ()),
        )


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    upstream: UpstreamConfig
    requirements: tuple[str, ...]  # PEP 508 strings, checked
    with_deps: bool = False
    pythons: tuple[str, ...] = ()  # "3.11": target Pythons of markers and wheel tags
    platforms: tuple[str, ...] = ()  # "manylinux_2_17_x86_64", "win_amd64", "macosx_11_0_arm64"
    filters: FileFilters = field(default_factory=FileFilters)
    every: int | None = None  # seconds between runs inside ``stilton serve``
    concurrency: int = DEFAULT_CONCURRENCY
    prune: bool = False  # remove mirrored files the selection no longer takes

    def __post_init__(self) -> None:
        if not self.requirements:
            raise InvalidInput(
                "A mirror needs at least one requirement (--require or --requirements)."
            )
        for text in self.requirements:
            parse_requirement(text)
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InvalidInput(f"--concurrency must be between 1 and {MAX_CONCURRENCY}.")
        for python in self.pythons:
            if re.fullmatch(r"3\.\d{1,2}", python) is None:
                raise InvalidInput(f"--python takes a version like 3.12, not {python!r}.")

    def parsed_requirements(self) -> list[Requirement]:
        return [parse_requirement(text) for text in self.requirements]

    def to_mapping(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream.to_mapping(),
            "requirements": list(self.requirements),
            "with_deps": self.with_deps,
            "pythons": list(self.pythons),
            "platforms": list(self.platforms),
            "filters": self.filters.to_mapping(),
            "every": self.every,
            "concurrency": self.concurrency,
            "prune": self.prune,
        }

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> MirrorConfig:
        return cls(
            upstream=UpstreamConfig.from_mapping(values.get("upstream") or {}),
            requirements=tuple(values.get("requirements") or ()),
            with_deps=bool(values.get("with_deps", False)),
            pythons=tuple(values.get("pythons") or ()),
            platforms=tuple(values.get("platforms") or ()),
            filters=FileFilters.from_mapping(values.get("filters") or {}),
            every=values.get("every"),
            concurrency=int(values.get("concurrency", DEFAULT_CONCURRENCY)),
            prune=bool(values.get("prune", False)),
        )
