"""Core metadata: read out of real wheels and sdists built by ``tests.support.dists``, validated
as PyPI does, checked against the filename, and mapped to Warehouse ``info`` fields."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from stilton.core.errors import InvalidInput
from stilton.core.filenames import DistributionFilename, parse_distribution_filename
from stilton.core.metadata import (
    check_metadata_matches,
    parse_core_metadata,
    read_sdist_metadata,
    read_wheel_metadata,
    release_info,
)
from tests.support.dists import Dist, sdist_bytes, wheel_bytes

FOO = Dist("foo", "1.0")
FOO_WHEEL = parse_distribution_filename(FOO.wheel_filename)
FOO_SDIST = parse_distribution_filename(FOO.sdist_filename)


def _without(data: bytes, suffix: str) -> bytes:
    """The zip ``data`` without the member whose name ends in ``suffix``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            if not name.endswith(suffix):
                target.writestr(name, source.read(name), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "dist",
    [
        FOO,
        Dist("Foo.Bar", "2.0rc1", requires_dist=("idna>=2", "spam; extra == 'eggs'")),
        Dist("zope.interface", "6.0", requires_python=">=3.8", description="# Héllo\n\n* wörld"),
        Dist("foo", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        Dist("foo", "1.0", extra_metadata=(("Keywords", "a,b"), ("License-File", "LICENSE"))),
    ],
)
def test_read_wheel_metadata_returns_the_exact_metadata_bytes(dist: Dist) -> None:
    parsed = parse_distribution_filename(dist.wheel_filename)
    assert read_wheel_metadata(io.BytesIO(wheel_bytes(dist)), parsed) == dist.metadata()


def test_dist_info_version_is_compared_canonically() -> None:
    parsed = parse_distribution_filename("foo-1.0.0-py3-none-any.whl")
    assert read_wheel_metadata(io.BytesIO(wheel_bytes(FOO)), parsed) == FOO.metadata()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a zip at all",
        sdist_bytes(FOO),
        wheel_bytes(FOO)[: len(wheel_bytes(FOO)) // 2],
    ],
    ids=["empty", "text", "tar.gz", "truncated"],
)
def test_read_wheel_metadata_rejects_a_non_zip(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="Invalid distribution file"):
        read_wheel_metadata(io.BytesIO(data), FOO_WHEEL)


@pytest.mark.parametrize("member", ["RECORD", "WHEEL", "METADATA"])
def test_read_wheel_metadata_requires_the_dist_info_files(member: str) -> None:
    data = _without(wheel_bytes(FOO), f".dist-info/{member}")
    with pytest.raises(InvalidInput, match=member):
        read_wheel_metadata(io.BytesIO(data), FOO_WHEEL)


@pytest.mark.parametrize(
    "data",
    [
        wheel_bytes(Dist("other", "1.0")),
        wheel_bytes(Dist("foo", "1.1")),
        _zip({"foo/__init__.py": b""}),
    ],
    ids=["other-project", "other-version", "no-dist-info"],
)
def test_read_wheel_metadata_needs_the_dist_info_of_its_filename(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        read_wheel_metadata(io.BytesIO(data), FOO_WHEEL)


def test_read_wheel_metadata_rejects_two_matching_dist_info_directories() -> None:
    data = wheel_bytes(FOO)
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members.update(
        {name.replace("foo-1.0", "Foo-1.0", 1): value for name, value in members.items()}
    )
    with pytest.raises(InvalidInput, match="exactly one"):
        read_wheel_metadata(io.BytesIO(_zip(members)), FOO_WHEEL)


def _corrupt_member(data: bytes, member: str, *, method: int | None = None) -> bytes:
    """Overwrite a member's compressed bytes, or set its compression method in both headers."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    out = bytearray(data)
    local = info.header_offset
    if method is None:
        name_length = int.from_bytes(out[local + 26 : local + 28], "little")
        extra_length = int.from_bytes(out[local + 28 : local + 30], "little")
        start = local + 30 + name_length + extra_length
        out[start : start + info.compress_size] = b"\xff" * info.compress_size
        return bytes(out)
    # PKZIP APPNOTE 4.3.7 and 4.3.12: the method is at offset 8 (local) and 10 (central).
    out[local + 8 : local + 10] = method.to_bytes(2, "little")
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(member)] != member.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    out[central + 10 : central + 12] = method.to_bytes(2, "little")
    return bytes(out)


def test_corrupt_compressed_metadata_is_invalid_input() -> None:
    data = _corrupt_member(wheel_bytes(FOO), "foo-1.0.dist-info/METADATA")
    with pytest.raises(InvalidInput):
        read_wheel_metadata(io.BytesIO(data), FOO_WHEEL)


def test_unknown_compression_method_is_invalid_input() -> None:
    data = _corrupt_member(wheel_bytes(FOO), "foo-1.0.dist-info/METADATA", method=99)
    with pytest.raises(InvalidInput):
        read_wheel_metadata(io.BytesIO(data), FOO_WHEEL)


def test_read_sdist_metadata_finds_pkg_info_in_a_tar_gz() -> None:
    assert read_sdist_metadata(io.BytesIO(sdist_bytes(FOO)), FOO_SDIST) == FOO.metadata()


def test_read_sdist_metadata_finds_pkg_info_in_a_zip() -> None:
    data = _zip({"foo-1.0/setup.py": b"", "foo-1.0/PKG-INFO": FOO.metadata()})
    parsed = parse_distribution_filename("foo-1.0.zip")
    assert read_sdist_metadata(io.BytesIO(data), parsed) == FOO.metadata()


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("foo-1.0.tar.gz", _tar_gz({"foo-1.0/setup.py": b""})),
        ("foo-1.0.tar.gz", _tar_gz({"foo-1.0/sub/PKG-INFO": FOO.metadata()})),
        ("foo-1.0.tar.gz", _tar_gz({"PKG-INFO": FOO.metadata()})),
        ("foo-1.0.zip", _zip({"foo-1.0/setup.py": b""})),
        ("foo-1.0.zip", _zip({"foo-1.0/sub/PKG-INFO": FOO.metadata()})),
    ],
    ids=["tar-none", "tar-nested", "tar-top", "zip-none", "zip-nested"],
)
def test_read_sdist_metadata_returns_none_without_a_top_level_pkg_info(
    filename: str, data: bytes
) -> None:
    parsed = parse_distribution_filename(filename)
    assert read_sdist_metadata(io.BytesIO(data), parsed) is None


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("foo-1.0.tar.gz", b"not a tarball"),
        ("foo-1.0.tar.gz", sdist_bytes(FOO)[:40]),
        ("foo-1.0.tar.gz", wheel_bytes(FOO)),
        ("foo-1.0.zip", sdist_bytes(FOO)),
        ("foo-1.0.zip", b""),
    ],
    ids=["tar-text", "tar-truncated", "tar-is-zip", "zip-is-tar", "zip-empty"],
)
def test_read_sdist_metadata_rejects_unreadable_archives(filename: str, data: bytes) -> None:
    parsed = parse_distribution_filename(filename)
    with pytest.raises(InvalidInput, match="Invalid distribution file"):
        read_sdist_metadata(io.BytesIO(data), parsed)


def test_read_sdist_metadata_rejects_a_pkg_info_that_is_not_a_file() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("foo-1.0/PKG-INFO")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(InvalidInput, match="PKG-INFO"):
        read_sdist_metadata(io.BytesIO(buffer.getvalue()), FOO_SDIST)


def _metadata(version: str, *lines: str) -> bytes:
    return "\n".join(
        [f"Metadata-Version: {version}", "Name: foo", "Version: 1.0", *lines, ""]
    ).encode()


ACCEPTED = [
    _metadata("1.0"),
    _metadata("1.1", "Classifier: Programming Language :: Python"),
    _metadata("1.2", "Requires-Python: >=3.8"),
    # setuptools wrote License-File under 2.1 for years; PyPI tolerates it.
    _metadata("2.1", "License-File: LICENSE"),
    _metadata("2.1", "Requires-Dist: idna>=2", "Requires-Dist: spam; extra == 'eggs'"),
    _metadata("2.2", "Dynamic: Requires-Dist"),
    _metadata("2.3", "Provides-Extra: eggs"),
    _metadata("2.4", "License-Expression: MIT", "License-File: LICENSE"),
    # Unknown fields are ignored.
    _metadata("2.3", "X-Custom: whatever"),
    # wheel < 0.31 wrote 2.0 (never a final specification); PyPI accepts it.
    _metadata("2.0", "Provides-Extra: eggs"),
    _metadata("2.5", "Import-Name: foo"),
    _metadata("2.1", "Summary: Fromage \u00e0 p\u00e2te persill\u00e9e"),
]

REJECTED = [
    (_metadata("2.1", "Requires-Dist: idna >=> 2"), "requires-dist"),
    (_metadata("2.1", "Requires-Python: >=three"), "requires-python"),
    (_metadata("3.0"), "Metadata-Version '3.0'"),
    (_metadata("2.6"), "Metadata-Version '2.6'"),
    (_metadata("99.0"), "Metadata-Version '99.0'"),
    (_metadata("banana"), "Metadata-Version 'banana'"),
    (_metadata("2.1", "Summary: one", "Summary: two"), "'summary' has invalid data"),
    (_metadata("2.1", "Summary: caf\xe9").replace(b"\xc3\xa9", b"\xe9"), "not UTF-8"),
    (b"Name: foo\nVersion: 1.0\n", "Metadata-Version None"),
    (b"Metadata-Version: 2.1\nName: foo\nVersion: not-a-version\n", "version"),
    (b"Metadata-Version: 2.1\nVersion: 1.0\n", "name"),
    (b"Metadata-Version: 2.1\nName: -foo-\nVersion: 1.0\n", "name"),
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_parse_core_metadata_accepts_what_pypi_accepts(data: bytes) -> None:
    raw = parse_core_metadata(data)
    assert (raw["name"], raw["version"]) == ("foo", "1.0")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nSummary: caf\xe9\n", "line 4"),
        (b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nX-Custom: \xff\n", "line 4"),
        (b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n\nLatin-1 body: \xe9t\xe9\n", "line 5"),
    ],
    ids=["known field", "unknown field", "description body"],
)
def test_metadata_that_is_not_utf8_is_refused_wherever_the_bad_byte_is(
    data: bytes, where: str
) -> None:
    with pytest.raises(InvalidInput, match="not UTF-8") as raised:
        parse_core_metadata(data)
    assert where in raised.value.message
    assert "must be UTF-8 encoded" in raised.value.message


def test_license_file_under_metadata_2_1_is_kept() -> None:
    assert parse_core_metadata(_metadata("2.1", "License-File: LICENSE"))["license_files"] == [
        "LICENSE"
    ]


@pytest.mark.parametrize(("data", "mentions"), REJECTED)
def test_parse_core_metadata_rejects_invalid_metadata(data: bytes, mentions: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid metadata") as raised:
        parse_core_metadata(data)
    assert mentions in str(raised.value)


MATCHING = [
    ("foo", "1.0", FOO_WHEEL),
    ("Foo", "1.0.0", FOO_WHEEL),
    ("Foo.Bar", "2.0rc1", parse_distribution_filename("foo_bar-2.0rc1-py3-none-any.whl")),
    ("FOO_bar", "2.0-rc.1", parse_distribution_filename("foo-bar-2.0rc1.tar.gz")),
]


@pytest.mark.parametrize(("name", "version", "dist"), MATCHING)
def test_check_metadata_matches_accepts_equivalent_names_and_versions(
    name: str, version: str, dist: DistributionFilename
) -> None:
    check_metadata_matches(parse_core_metadata(_named(name, version)), dist)


@pytest.mark.parametrize(
    ("name", "version", "mentions"),
    [("bar", "1.0", "names project 'bar'"), ("foo", "1.1", "has version '1.1'")],
)
def test_check_metadata_matches_catches_mismatches(name: str, version: str, mentions: str) -> None:
    with pytest.raises(InvalidInput, match=mentions):
        check_metadata_matches(parse_core_metadata(_named(name, version)), FOO_WHEEL)


def _named(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.3\nName: {name}\nVersion: {version}\n".encode()


FULL_METADATA = b"""\
Metadata-Version: 2.4
Name: HolyGrail
Version: 1.0
Summary: Find it
Keywords: quest,grail, knights
Author: Arthur
Author-email: arthur@camelot.example
License-Expression: MIT
License-File: LICENSE
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Requires-Python: >=3.8
Requires-Dist: spam>=2
Requires-Dist: eggs; extra == 'breakfast'
Provides-Extra: breakfast
Platform: any
Project-URL: Homepage, https://grail.example
Project-URL: Bug Tracker, https://grail.example/issues
Description-Content-Type: text/markdown

# HolyGrail
"""


def test_release_info_maps_core_metadata_fields() -> None:
    info = release_info(parse_core_metadata(FULL_METADATA))
    assert info == {
        "name": "HolyGrail",
        "version": "1.0",
        "summary": "Find it",
        "description": "# HolyGrail\n",
        "description_content_type": "text/markdown",
        "keywords": "quest,grail,knights",
        "license": None,
        "license_expression": "MIT",
        "license_files": ["LICENSE"],
        "classifiers": [
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License",
        ],
        "author": "Arthur",
        "author_email": "arthur@camelot.example",
        "maintainer": None,
        "maintainer_email": None,
        "requires_python": ">=3.8",
        "platform": "any",
        "home_page": None,
        "download_url": None,
        "project_urls": {
            "Homepage": "https://grail.example",
            "Bug Tracker": "https://grail.example/issues",
        },
        "requires_dist": ["spam>=2", "eggs; extra == 'breakfast'"],
        "provides_extra": ["breakfast"],
        "dynamic": None,
    }


def test_release_info_of_minimal_metadata_has_empty_lists_and_nones() -> None:
    info = release_info(parse_core_metadata(_metadata("2.3")))
    assert info["classifiers"] == []
    assert (info["keywords"], info["platform"], info["project_urls"]) == (None, None, None)
    assert (info["requires_dist"], info["provides_extra"]) == (None, None)
