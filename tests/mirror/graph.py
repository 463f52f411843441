"""A small dependency graph of real wheels and sdists, for mirror tests: a diamond, extras,
markers that differ by platform and by Python, platform wheels, and versions a closure must
leave out. ``EXPECTED`` is exactly what a closure of ``ROOTS`` takes for CPython 3.11 on
manylinux x86_64 with ``--latest 1``, so that pip and uv there can install every root offline.
"""

from __future__ import annotations

from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream

TARGET = ("--python", "3.11", "--platform", "manylinux_2_17_x86_64")
ROOTS = ("app", "fancy[speed]")
LINUX_311 = "cp311-cp311-manylinux_2_17_x86_64"

DISTS: tuple[tuple[Dist, bool], ...] = (  # (dist, with an sdist)
    (
        Dist(
            "app",
            "1.0",
            requires_dist=(
                "left>=1",
                "right>=1",
                "native",
                'winonly; sys_platform == "win32"',
                'backport; python_version < "3.11"',
                'clitool; extra == "cli"',
            ),
            extra_metadata=(("Provides-Extra", "cli"),),
        ),
        True,
    ),
    (Dist("left", "1.0", requires_dist=("base>=1,<3",)), True),
    (Dist("right", "1.0", requires_dist=("base>=2",)), True),
    # The diamond: left wants <3, right >=2; an installer of app picks 2.5.
    (Dist("base", "1.0"), True),
    (Dist("base", "2.0"), True),
    (Dist("base", "2.5"), True),
    (Dist("base", "3.0"), True),
    (Dist("base", "4.0rc1"), False),  # a pre-release nobody asks for
    (Dist("winonly", "1.0"), True),
    (Dist("backport", "1.0"), True),
    (Dist("clitool", "1.0"), True),
    (
        Dist(
            "fancy",
            "1.0",
            requires_dist=('speedup; extra == "speed"', 'slowdown; extra == "slow"'),
            extra_metadata=(("Provides-Extra", "speed"), ("Provides-Extra", "slow")),
        ),
        True,
    ),
    (Dist("speedup", "1.0"), True),
    (Dist("slowdown", "1.0"), True),
)
# A project with wheels per platform and Python; only the cp311 manylinux one is for the target.
NATIVE_TAGS = (
    LINUX_311,
    "cp312-cp312-manylinux_2_17_x86_64",
    "cp311-cp311-win_amd64",
    "cp311-cp311-macosx_11_0_arm64",
)


def native(tag: str, version: str = "1.0") -> Dist:
    return Dist("native", version, tag=tag)


def publish(upstream: FakeUpstream) -> None:
    for dist, sdist in DISTS:
        upstream.add(dist, sdist=sdist)
    for index, tag in enumerate(NATIVE_TAGS):
        upstream.add(native(tag), sdist=index == 0)


def files(name: str, version: str, *, sdist: bool = True, tag: str = "py3-none-any") -> set[str]:
    dist = Dist(name, version, tag=tag)
    return {dist.wheel_filename} | ({dist.sdist_filename} if sdist else set())


EXPECTED = (
    files("app", "1.0")
    | files("left", "1.0")
    | files("right", "1.0")
    | files("base", "2.5")
    | files("base", "3.0")
    | files("fancy", "1.0")
    | files("speedup", "1.0")
    | files("native", "1.0", tag=LINUX_311)
)
