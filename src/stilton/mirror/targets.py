"""The environments a mirror serves: target Pythons and platforms.

They decide which requirements of a file's metadata are followed (PEP 508 markers evaluated for
each target, ``packaging.markers``), which wheels can be installed on them (PEP 425 tags,
``packaging.tags``) and which files their Requires-Python admits. With no ``--python`` a
mirror serves every supported CPython; with no ``--platform``, every common platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from stilton.core.errors import InvalidInput

DEFAULT_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
DEFAULT_PLATFORMS = (
    "manylinux_2_17_x86_64",
    "manylinux_2_17_aarch64",
    "musllinux_1_2_x86_64",
    "win_amd64",
    "macosx_11_0_arm64",
    "macosx_10_12_x86_64",
)
# PEP 600: the legacy manylinux names and the glibc versions they stand for.
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_LINUX = re.compile(r"(manylinux|musllinux)_(\d+)_(\d+)_(\w+)", re.ASCII)
_LEGACY = re.compile(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", re.ASCII)
_MAC = re.compile(r"macosx_(\d+)_(\d+)_(\w+)", re.ASCII)
_WINDOWS = {"win32": "x86", "win_amd64": "AMD64", "win_arm64": "ARM64"}


@dataclass(frozen=True, slots=True)
class Platform:
    """A wheel platform tag and what PEP 508 markers see on it."""

    tag: str
    sys_platform: str
    platform_system: str
    os_name: str
    machine: str

    @classmethod
    def parse(cls, tag: str) -> Platform:
        if tag in _WINDOWS:
            return cls(tag, "win32", "Windows", "nt", _WINDOWS[tag])
        if (mac := _MAC.fullmatch(tag)) is not None:
            return cls(tag, "darwin", "Darwin", "posix", mac.group(3))
        linux = _LINUX.fullmatch(tag) or _LEGACY.fullmatch(tag)
        if linux is not None or tag.startswith("linux_"):
            machine = linux.groups()[-1] if linux else tag.removeprefix("linux_")
            return cls(tag, "linux", "Linux", "posix", machine)
        raise InvalidInput(
            f"--platform takes a wheel platform tag such as manylinux_2_17_x86_64,"
            f" musllinux_1_2_aarch64, win_amd64 or macosx_11_0_arm64; not {tag!r}."
        )

    def compatible_tags(self) -> list[str]:
        """The platform tags of wheels that install here, most specific first (as pip)."""
        if (mac := _MAC.fullmatch(self.tag)) is not None:
            version = (int(mac.group(1)), int(mac.group(2)))
            return list(mac_platforms(version, mac.group(3)))
        if (legacy := _LEGACY.fullmatch(self.tag)) is not None:
            glibc = LEGACY_MANYLINUX[legacy.group(1)]
            return _linux_tags("manylinux", glibc, legacy.group(2))
        if (linux := _LINUX.fullmatch(self.tag)) is not None:
            family, major, minor, arch = linux.groups()
            return _linux_tags(family, (int(major), int(minor)), arch)
        return [self.tag]


def _linux_tags(family: str, newest: tuple[int, int], arch: str) -> list[str]:
    """PEP 600/656: a glibc (musl) x.y system installs every older x.* wheel too."""
    major, minor = newest
    oldest = 5 if family == "manylinux" else 0
    tags = [f"{family}_{major}_{m}_{arch}" for m in range(minor, oldest - 1, -1)]
    if family == "manylinux":
        tags += [
            f"{legacy}_{arch}"
            for legacy, version in LEGACY_MANYLINUX.items()
            if version <= newest and major == 2
        ]
    return [*tags, f"linux_{arch}"]


class Targets:
    """Target Pythons and platforms, every pairing; ``explicit_*``: what was asked for."""

    def __init__(self, pythons: Iterable[str] = (), platforms: Iterable[str] = ()) -> None:
        self.explicit_pythons = tuple(pythons)
        self.explicit_platforms = tuple(Platform.parse(tag) for tag in platforms)
        self.pythons = self.explicit_pythons or DEFAULT_PYTHONS
        self.platforms = self.explicit_platforms or tuple(
            Platform.parse(tag) for tag in DEFAULT_PLATFORMS
        )

    @cached_property
    def environments(self) -> list[dict[str, str]]:
        """PEP 508 marker environments, one per target Python and platform (CPython)."""
        return [
            {
                "implementation_name": "cpython",
                "implementation_version": f"{python}.0",
                "os_name": platform.os_name,
                "platform_machine": platform.machine,
                "platform_python_implementation": "CPython",
                "platform_release": "",
                "platform_system": platform.platform_system,
                "platform_version": "",
                "python_full_version": f"{python}.0",
                "python_version": python,
                "sys_platform": platform.sys_platform,
            }
            for python in self.pythons
            for platform in self.platforms
        ]

    def wants(self, marker: Marker | None, extras: Iterable[str]) -> bool:
        """Whether a requirement with ``marker`` applies on some target, with ``extras`` asked
        for (a requirement of the base project is asked with no extra)."""
        if marker is None:
            return True
        for extra in ("", *extras):
            for environment in self.environments:
                if marker.evaluate({**environment, "extra": extra}):
                    return True
        return False

    @cached_property
    def _interpreter_abis(self) -> frozenset[tuple[str, str]]:
        pairs: set[tuple[str, str]] = set()
        for python in self.explicit_pythons:
            version = tuple(int(part) for part in python.split("."))
            interpreter = f"cp{version[0]}{version[1]}"
            for tag in (
                *cpython_tags(version, platforms=["x"]),
                *compatible_tags(version, interpreter, platforms=["x"]),
            ):
                pairs.add((tag.interpreter, tag.abi))
        return frozenset(pairs)

    @cached_property
    def _platform_tags(self) -> frozenset[str]:
        return frozenset(t for p in self.explicit_platforms for t in p.compatible_tags()) | {"any"}

    def installs(self, tags: Iterable[Tag]) -> bool:
        """Whether a wheel with these tags installs on some target (PEP 425)."""
        return any(
            (not self.explicit_pythons or (tag.interpreter, tag.abi) in self._interpreter_abis)
            and (not self.explicit_platforms or tag.platform in self._platform_tags)
            for tag in tags
        )

    def admits(self, requires_python: str | None) -> bool:
        """Whether some target Python satisfies a file's Requires-Python (unreadable: yes)."""
        if not requires_python or not self.explicit_pythons:
            return True
        try:
            specifier = SpecifierSet(requires_python)
        except InvalidSpecifier:
            return True
        return any(
            specifier.contains(f"{python}.{patch}", prereleases=True)
            for python in self.explicit_pythons
            for patch in (0, 99)
        )
