"""Distribution filenames: wheels (PEP 427) and sdists (PEP 625 plus legacy forms) parse into
project, version and kind, and anything unsafe or unknown is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType, check_safe_filename, parse_distribution_filename

WHEEL = PackageType.WHEEL
SDIST = PackageType.SDIST

# (filename, project, version, packagetype, python_version)
VALID = [
    ("foo-1.0-py3-none-any.whl", "foo", "1.0", WHEEL, "py3"),
    ("Foo-1.0-py3-none-any.whl", "foo", "1.0", WHEEL, "py3"),
    ("foo_bar-2.0rc1-py3-none-any.whl", "foo-bar", "2.0rc1", WHEEL, "py3"),
    ("foo.bar-1.0-py3-none-any.whl", "foo-bar", "1.0", WHEEL, "py3"),
    ("foo-1!2.0.post1.dev3-py3-none-any.whl", "foo", "1!2.0.post1.dev3", WHEEL, "py3"),
    ("foo-1.0+local.7-py3-none-any.whl", "foo", "1.0+local.7", WHEEL, "py3"),
    # Build tags.
    ("foo-1.0-1-py3-none-any.whl", "foo", "1.0", WHEEL, "py3"),
    ("foo-1.0-2abc-py3-none-any.whl", "foo", "1.0", WHEEL, "py3"),
    # Compressed tag sets: the python_version lists every interpreter, sorted.
    ("six-1.16.0-py2.py3-none-any.whl", "six", "1.16.0", WHEEL, "py2.py3"),
    ("six-1.16.0-py3.py2-none-any.whl", "six", "1.16.0", WHEEL, "py2.py3"),
    ("foo-1.0-cp311.cp312-abi3-any.whl", "foo", "1.0", WHEEL, "cp311.cp312"),
    # Platform tags.
    (
        "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy",
        "2.1.0",
        WHEEL,
        "cp312",
    ),
    (
        "cryptography-43.0.0-cp39-abi3-musllinux_1_2_aarch64.whl",
        "cryptography",
        "43.0.0",
        WHEEL,
        "cp39",
    ),
    ("foo-1.0-cp312-cp312-macosx_11_0_arm64.whl", "foo", "1.0", WHEEL, "cp312"),
    ("foo-1.0-cp312-cp312-macosx_10_9_universal2.whl", "foo", "1.0", WHEEL, "cp312"),
    ("foo-1.0-cp312-cp312-win_amd64.whl", "foo", "1.0", WHEEL, "cp312"),
    ("foo-1.0-cp38-cp38-win32.whl", "foo", "1.0", WHEEL, "cp38"),
    ("foo-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", "foo", "1.0", WHEEL, "pp310"),
    # Sdists: PEP 625 names and the legacy forms still on indexes.
    ("foo-1.0.tar.gz", "foo", "1.0", SDIST, "source"),
    ("foo_bar-1.0.tar.gz", "foo-bar", "1.0", SDIST, "source"),
    ("Foo.Bar-1.0.tar.gz", "foo-bar", "1.0", SDIST, "source"),
    ("foo-bar-1.0.tar.gz", "foo-bar", "1.0", SDIST, "source"),
    ("Django-5.0.zip", "django", "5.0", SDIST, "source"),
    ("foo-1.0.zip", "foo", "1.0", SDIST, "source"),
    ("foo-2.0a1.tar.gz", "foo", "2.0a1", SDIST, "source"),
    # Exactly 255 characters is still a plain file name.
    ("a" * 244 + "-1.0.tar.gz", "a" * 244, "1.0", SDIST, "source"),
]


INVALID = [
    "",
    # Unknown or legacy kinds.
    "foo-1.0.exe",
    "foo-1.0-py3.8.egg",
    "foo-1.0.tar.bz2",
    "foo-1.0.tar.xz",
    "foo-1.0.tgz",
    "foo-1.0.tar",
    "foo-1.0.rpm",
    "foo-1.0-py3-none-any.WHL",
    "foo-1.0-py3-none-any.whl.metadata",
    # Path tricks.
    "dir/foo-1.0.tar.gz",
    "dir\\foo-1.0.tar.gz",
    "/foo-1.0.tar.gz",
    "../foo-1.0.tar.gz",
    "..\\foo-1.0-py3-none-any.whl",
    "foo..bar-1.0.tar.gz",
    ".foo-1.0.tar.gz",
    ".tar.gz",
    # Control characters.
    "foo-1.0.tar.gz\x00",
    "foo\x00-1.0.tar.gz",
    "foo\n-1.0.tar.gz",
    "foo-1.0\r.tar.gz",
    "foo-1.0-py3-none-any\x1f.whl",
    "foo-1.0\x7f.tar.gz",
    # Invalid versions and malformed wheel names.
    "foo-notaversion.tar.gz",
    "foo.tar.gz",
    "foo-x.y-py3-none-any.whl",
    "foo-1.0-py3-none.whl",
    "foo-1.0-py3-none-any-extra.whl",
    "foo-1.0-x1-py3-none-any.whl",
    "foo--1.0-py3-none-any.whl",
    "café-1.0.tar.gz",
    "café-1.0-py3-none-any.whl",
    # Over 255 characters.
    "a" * 245 + "-1.0.tar.gz",
    "a" * 300 + "-1.0-py3-none-any.whl",
]


@pytest.mark.parametrize(("filename", "project", "version", "packagetype", "python"), VALID)
def test_parse_distribution_filename_reads_wheels_and_sdists(
    filename: str, project: str, version: str, packagetype: PackageType, python: str
) -> None:
    parsed = parse_distribution_filename(filename)
    assert parsed.filename == filename
    assert parsed.project == project
    assert parsed.version == Version(version)
    assert parsed.packagetype is packagetype
    assert parsed.is_wheel == (packagetype is WHEEL)
    assert parsed.python_version == python


@pytest.mark.parametrize("filename", INVALID)
def test_parse_distribution_filename_rejects_unsafe_and_unknown_names(filename: str) -> None:
    with pytest.raises(InvalidInput):
        parse_distribution_filename(filename)


NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True)
VERSIONS = st.builds(
    lambda epoch, release, pre, post, dev: Version(
        f"{epoch}!{'.'.join(map(str, release))}{pre}{post}{dev}"
    ),
    st.integers(0, 3),
    st.lists(st.integers(0, 2000), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc3"]),
    st.sampled_from(["", ".post1"]),
    st.sampled_from(["", ".dev4"]),
)


def _pep_503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@given(NAMES, VERSIONS)
def test_built_wheel_filenames_parse_back(name: str, version: Version) -> None:
    # PEP 427: the name in a wheel filename is normalized with "_" for "-".
    stem = _pep_503(name).replace("-", "_")
    parsed = parse_distribution_filename(f"{stem}-{version}-py3-none-any.whl")
    assert (parsed.project, parsed.version, parsed.packagetype) == (
        _pep_503(name),
        version,
        WHEEL,
    )


@given(NAMES, VERSIONS, st.sampled_from([".tar.gz", ".zip"]))
def test_built_sdist_filenames_parse_back(name: str, version: Version, suffix: str) -> None:
    stem = _pep_503(name).replace("-", "_")
    parsed = parse_distribution_filename(f"{stem}-{version}{suffix}")
    assert (parsed.project, parsed.version, parsed.packagetype, parsed.python_version) == (
        _pep_503(name),
        version,
        SDIST,
        "source",
    )


@given(st.text(max_size=30), st.sampled_from(["/", "\\", "\x00", "\n", ".."]), st.text(max_size=30))
def test_filenames_with_separators_or_control_characters_are_refused(
    head: str, unsafe: str, tail: str
) -> None:
    with pytest.raises(InvalidInput):
        parse_distribution_filename(f"{head}{unsafe}{tail}-1.0.tar.gz")


UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|\.\.")  # the rule, written out once more


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=300))
def test_the_quick_safety_check_decides_as_the_rule(filename: str) -> None:
    """Printable ASCII names take a shortcut; every name gets the rule's answer."""
    expected = bool(filename) and len(filename) <= 255 and not UNSAFE.search(filename)
    try:
        check_safe_filename(filename)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted is expected
