"""The pure parts of a mirror's selection, as tables: requirements files of every kind, target
environments (markers, wheel tags, Requires-Python), version choice and file filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import parse_tag

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType
from stilton.core.model import Digests
from stilton.core.names import ProjectName
from stilton.mirror.config import FileFilters, MirrorConfig, parse_duration
from stilton.mirror.requirements_files import read_requirements_file
from stilton.mirror.selection import select_files
from stilton.mirror.targets import Platform, Targets
from stilton.upstream.model import UpstreamFile

PIP_FILE = """\
# a comment
requests>=2.30  # trailing comment
numpy<2 ; python_version < "3.13" --hash=sha256:abc
-i https://example.invalid/simple/
--pre
Django \\
  >=5
-r more.txt
"""

PYLOCK = f"""\
lock-version = "1.0"
created-by = "tests"
[[packages]]
name = "idna"
version = "3.10"
[[packages.wheels]]
url = "https://example.invalid/idna-3.10-py3-none-any.whl"
hashes = {{ sha256 = "{"a" * 64}" }}
[[packages]]
name = "pywin32"
version = "311"
marker = "sys_platform == 'win32'"
[[packages.wheels]]
url = "https://example.invalid/pywin32-311-cp311-cp311-win_amd64.whl"
hashes = {{ sha256 = "{"b" * 64}" }}
[[packages]]
name = "local-thing"
directory = {{ path = "." }}
"""

UV_LOCK = """\
version = 1
[[package]]
name = "consumer"
version = "0.1.0"
source = { editable = "." }
[[package]]
name = "certifi"
version = "2025.1.31"
source = { registry = "https://example.invalid/simple" }
"""

POETRY_LOCK = """\
[[package]]
name = "charset-normalizer"
version = "3.4.1"
[[package]]
name = "mine"
version = "0.1"
[package.source]
type = "directory"
url = "../mine"
"""


def test_requirements_files_of_every_kind(tmp_path: Path) -> None:
    (tmp_path / "more.txt").write_text("urllib3==2.2.3\n")
    cases = {
        "requirements.txt": (
            PIP_FILE,
            ["requests>=2.30", 'numpy<2; python_version < "3.13"', "Django>=5", "urllib3==2.2.3"],
        ),
        "pylock.toml": (PYLOCK, ["idna==3.10", 'pywin32==311; sys_platform == "win32"']),
        "uv.lock": (UV_LOCK, ["certifi==2025.1.31"]),
        "poetry.lock": (POETRY_LOCK, ["charset-normalizer==3.4.1"]),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert read_requirements_file(tmp_path / name) == expected, name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-e ./here\n", "editable install"),
        ("pkg @ https://example.invalid/pkg.whl\n", "names a URL"),
        ("not a requirement!!\n", "is not a valid requirement"),
        ("-r loop.txt\n", "includes itself"),
    ],
)
def test_requirements_files_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "loop.txt").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        read_requirements_file(tmp_path / "loop.txt")


@pytest.mark.parametrize(
    ("tag", "compatible", "incompatible"),
    [
        ("manylinux_2_17_x86_64", ["manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64"],
         ["manylinux_2_28_x86_64", "manylinux_2_17_aarch64"]),
        ("musllinux_1_2_aarch64", ["musllinux_1_1_aarch64"], ["manylinux_2_17_aarch64"]),
        ("macosx_11_0_arm64", ["macosx_10_9_universal2", "macosx_11_0_arm64"],
         ["macosx_12_0_arm64"]),
        ("win_amd64", ["win_amd64"], ["win32"]),
    ],
)  # fmt: skip
def test_platform_tags(tag: str, compatible: list[str], incompatible: list[str]) -> None:
    tags = Platform.parse(tag).compatible_tags()
    assert set(compatible) <= set(tags)
    assert not set(incompatible) & set(tags)


@pytest.mark.parametrize(
    ("marker", "pythons", "platforms", "extras", "wanted"),
    [
        ('sys_platform == "win32"', ["3.11"], ["manylinux_2_17_x86_64"], [], False),
        ('sys_platform == "win32"', ["3.11"], ["win_amd64"], [], True),
        ('platform_machine == "aarch64"', [], ["manylinux_2_17_aarch64"], [], True),
        ('python_version < "3.11"', ["3.11", "3.12"], [], [], False),
        ('python_version < "3.11"', ["3.10"], [], [], True),
        ('extra == "speed"', [], [], [], False),
        ('extra == "speed"', [], [], ["speed"], True),
        ('os_name == "nt" and extra == "speed"', [], ["macosx_11_0_arm64"], ["speed"], False),
    ],
)
def test_markers_on_targets(
    marker: str, pythons: list[str], platforms: list[str], extras: list[str], wanted: bool
) -> None:
    assert Targets(pythons, platforms).wants(Marker(marker), extras) is wanted


@pytest.mark.parametrize(
    ("tag", "wanted"),
    [
        ("cp311-cp311-manylinux_2_17_x86_64", True),
        ("cp311-abi3-manylinux_2_17_x86_64", True),
        ("cp38-abi3-manylinux2014_x86_64", True),
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp312-cp312-manylinux_2_17_x86_64", False),
        ("cp311-cp311-win_amd64", False),
        ("cp311-cp311-manylinux_2_28_x86_64", False),
        ("pp310-pypy310_pp73-manylinux_2_17_x86_64", False),
    ],
)
def test_wheel_tags_on_targets(tag: str, wanted: bool) -> None:
    targets = Targets(["3.11"], ["manylinux_2_17_x86_64"])
    assert targets.installs(parse_tag(tag)) is wanted


def test_requires_python_on_targets() -> None:
    targets = Targets(["3.11"], [])
    assert targets.admits(">=3.8") and targets.admits(">=3.11.4") and targets.admits(None)
    assert not targets.admits(">=3.12") and not targets.admits("<3")


def file(
    name: str, version: str, *, tag: str = "py3-none-any", yanked: bool = False
) -> UpstreamFile:
    filename = f"{name}-{version}-{tag}.whl"
    return UpstreamFile(
        filename,
        version,
        PackageType.WHEEL,
        tag.split("-")[0],
        10,
        Digests(""),
        None,
        yanked=yanked,
        url=f"http://up/{filename}",
    )


def chosen(requirements: list[str], files: list[UpstreamFile], **filters: object) -> list[str]:
    selection = select_files(
        ProjectName("p"),
        files,
        [Requirement(r) for r in requirements],
        FileFilters(**filters),  # type: ignore[arg-type]
        Targets(["3.11"], ["manylinux_2_17_x86_64"]),
    )
    return [f.version for f in selection.files]


VERSIONS = [file("p", v) for v in ("1.0", "1.5", "2.0", "2.1b1")]


@pytest.mark.parametrize(
    ("requirements", "filters", "expected"),
    [
        (["p"], {}, ["1.0", "1.5", "2.0"]),
        (["p"], {"latest": 1}, ["2.0"]),
        (["p"], {"latest": 1, "prereleases": True}, ["2.1b1"]),
        (["p>=2.1b1"], {"latest": 1}, ["2.1b1"]),  # named explicitly
        (["p<2"], {"latest": 1}, ["1.5"]),
        # A diamond: each edge's newest, and the newest both allow.
        (["p>=1", "p<2,!=1.5"], {"latest": 1}, ["1.0", "2.0"]),
        (["p"], {"latest": 1, "max_size": 5}, []),
    ],
)
def test_versions_chosen(
    requirements: list[str], filters: dict[str, object], expected: list[str]
) -> None:
    assert chosen(requirements, VERSIONS, **filters) == expected


def test_yanked_files_only_for_a_pin() -> None:
    files = [file("p", "1.0"), file("p", "2.0", yanked=True)]
    assert chosen(["p"], files, latest=1) == ["1.0"]
    assert chosen(["p==2.0"], files) == ["2.0"]


def test_tag_globs_and_package_types() -> None:
    files = [
        file("p", "1.0", tag="cp311-abi3-manylinux_2_17_x86_64"),
        file("p", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
    ]
    assert len(chosen(["p"], files, python_tags=("abi3",))) == 1
    assert chosen(["p"], files, platform_tags=("musllinux*",)) == []
    sdist_only = frozenset({PackageType.SDIST})
    assert chosen(["p"], files, package_types=sdist_only) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), ("90", 90)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_configuration_is_checked() -> None:
    with pytest.raises(InvalidInput, match="at least one requirement"):
        MirrorConfig.from_mapping({"upstream": {"url": "http://up/simple/"}})
    with pytest.raises(InvalidInput, match="--python takes"):
        MirrorConfig.from_mapping(
            {"upstream": {"url": "http://up/simple/"}, "requirements": ["a"], "pythons": ["311"]}
        )
    with pytest.raises(InvalidInput, match="is not a duration"):
        parse_duration("soon")
    with pytest.raises(InvalidInput, match="wheel platform tag"):
        Platform.parse("linux")
