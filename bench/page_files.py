"""The files a real-size project page lists: its one real wheel, and synthetic entries of older
versions up to the count the public index lists (``page-sizes.tsv``).

Synthetic entries are plausible and deterministic: filenames of versions lower than the pinned
one (so a ``==`` pin never picks them) with the usual spread of wheel tags, sdists and a few eggs,
fake sha256s, sizes, upload times, ``requires-python`` and core metadata on wheels. Their URLs
(``../../packages/<aa>/<bb>/<hex>/<filename>``, shaped like the public index's) lead nowhere: a
request for one is an error of whoever made it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from bench.corpus import CorpusError, CorpusFile
from bench.page_sizes import PageSize

SYNTHETIC_PREFIX = "packages"  # the tree's directory of synthetic URLs, which holds nothing
NEWEST_UPLOAD = datetime(2025, 6, 1, tzinfo=UTC)  # the newest synthetic file's upload time
UPLOAD_SPAN = timedelta(days=10 * 365)  # synthetic uploads spread over ten years
# The public index's pages give core metadata for recent wheels only (its JSON pages average
# close to 460 bytes a file, which leaves no room for two metadata hashes on most of them).
METADATA_SHARE = 0.1  # the newest tenth of the synthetic versions have core metadata
YANKED_EVERY = 37  # one synthetic version in this many is yanked (PEP 592)
PURE_TAGS = ("py3-none-any", "py2.py3-none-any", "py2-none-any")
PYTHONS = ("cp311", "cp310", "cp312", "cp39", "cp313", "cp38", "cp314", "cp37", "cp313t", "cp36")
PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "musllinux_1_2_x86_64",
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "win_amd64",
    "win32",
    "musllinux_1_2_aarch64",
    "manylinux_2_17_i686.manylinux2014_i686",
    "manylinux_2_17_ppc64le.manylinux2014_ppc64le",
    "manylinux_2_17_s390x.manylinux2014_s390x",
    "macosx_10_9_universal2",
    "win_arm64",
    "musllinux_1_2_i686",
    "manylinux_2_17_armv7l.manylinux2014_armv7l",
)
BINARY_TAGS = tuple(f"{py}-{py}-{platform}" for py in PYTHONS for platform in PLATFORMS)
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")
EGG_TAGS = tuple(
    f"py{python}{platform}"
    for platform in ("", "-win32", "-win-amd64", "-linux-x86_64", "-macosx-10.9-x86_64")
    for python in ("2.7", "3.6", "3.5", "3.4", "2.6", "3.3")
)
REQUIRES_PYTHON = (">=3.9", ">=3.8", ">=3.7", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*", None)
GRID_MINORS, GRID_MICROS, GRID_MAJORS = 20, 10, 30  # the grid older versions are taken from


@dataclass(frozen=True, slots=True)
class PageFile:
    """One file as a project page lists it (PEP 503 / PEP 691 v1.1 fields)."""

    filename: str
    version: str
    url: str  # relative to the project page
    sha256: str
    size: int
    upload_time: datetime
    requires_python: str | None
    metadata_sha256: str | None  # PEP 658/714 core metadata, wheels only
    yanked: bool = False


def fake_digest(*parts: str) -> str:
    """A deterministic sha256-shaped hex string for a synthetic file."""
    return hashlib.sha256("\0".join(("stilton-bench-synthetic", *parts)).encode()).hexdigest()


def lower_versions(pinned: Version, count: int) -> list[Version]:
    """Up to ``count`` versions below ``pinned``, newest first: releases from a grid under it,
    then pre-releases and post-releases of those when the grid is too small."""
    releases = sorted({v for v in _release_grid(pinned) if v < pinned}, reverse=True)
    if len(releases) < count:
        extra = {
            Version(f"{release}{suffix}")
            for release in [pinned, *releases]
            for suffix in ("rc2", "rc1", "b1", "a1", ".post1", ".post2")
        }
        releases = sorted({*releases, *(v for v in extra if v < pinned)}, reverse=True)
    return releases[:count]


def _release_grid(pinned: Version) -> Iterator[Version]:
    major, minor, micro = (*pinned.release, 0, 0)[:3]
    majors = range(major, max(-1, major - GRID_MAJORS), -1)
    minors = range(max(minor, GRID_MINORS - 1), -1, -1)
    micros = range(max(micro, GRID_MICROS - 1), -1, -1)
    for a, b, c in itertools.product(majors, minors, micros):
        yield Version(f"{a}.{b}.{c}")


def _spread(total: int, buckets: int) -> list[int]:
    """``total`` items over ``buckets`` (newest first), the newest getting the remainder."""
    share, extra = divmod(total, buckets)
    return [share + (1 if number < extra else 0) for number in range(buckets)]


@dataclass(frozen=True, slots=True)
class _Release:
    """One synthetic version and how it is shaped."""

    version: Version
    position: int  # 0 is the newest synthetic version
    of: int  # how many synthetic versions there are

    @property
    def upload_time(self) -> datetime:
        return NEWEST_UPLOAD - UPLOAD_SPAN * self.position / max(1, self.of)

    @property
    def requires_python(self) -> str | None:
        return REQUIRES_PYTHON[self.position * len(REQUIRES_PYTHON) // max(1, self.of)]

    @property
    def has_metadata(self) -> bool:
        return self.position < max(1.0, self.of * METADATA_SHARE)

    @property
    def yanked(self) -> bool:
        return self.position % YANKED_EVERY == YANKED_EVERY - 1


def synthetic_files(pinned: CorpusFile, pinned_size: int, size: PageSize) -> list[PageFile]:
    """The page's entries other than the pinned wheel, up to ``size.files`` in all."""
    if size.files <= 1:
        return []
    name, version, _, tags = parse_wheel_filename(pinned.filename)
    versions = lower_versions(version, max(1, size.versions - 1))
    if not versions:
        raise CorpusError(f"no version lower than {version} for {name}")
    pure = any(tag.platform == "any" for tag in tags)
    counts = (max(0, size.wheels - 1), size.sdists, size.other)
    if sum(counts) != size.files - 1:
        raise CorpusError(f"the counts of {name} do not add up to {size.files} files")
    releases = [_Release(v, position, len(versions)) for position, v in enumerate(versions)]
    stem = canonicalize_name(name).replace("-", "_")  # PEP 427 / PEP 625 escaping
    files = []
    for release, wheels, sdists, eggs in zip(
        releases, *(_spread(count, len(releases)) for count in counts), strict=True
    ):
        names = _wheel_names(stem, release.version, wheels, pure)
        names += [f"{stem}-{release.version}{SDIST_SUFFIXES[n % 3]}" for n in range(sdists)]
        names += [
            f"{stem}-{release.version}-{EGG_TAGS[n % len(EGG_TAGS)]}.egg" for n in range(eggs)
        ]
        files += [_entry(filename, release, pinned_size) for filename in names]
    if len({file.filename for file in files}) != len(files):
        raise CorpusError(f"the synthetic files of {name} repeat a filename")
    return files


def _wheel_names(stem: str, version: Version, count: int, pure: bool) -> list[str]:
    tags = PURE_TAGS if pure else BINARY_TAGS
    names = []
    for number in range(count):
        build, tag = divmod(number, len(tags))
        # PEP 427: a build tag tells apart wheels that share every other tag.
        middle = f"{version}-{build}" if build else str(version)
        names.append(f"{stem}-{middle}-{tags[tag]}.whl")
    return names


def _entry(filename: str, release: _Release, pinned_size: int) -> PageFile:
    digest = fake_digest(filename)
    path = fake_digest("path", filename)
    wheel = filename.endswith(".whl")
    return PageFile(
        filename=filename,
        version=str(release.version),
        url=f"../../{SYNTHETIC_PREFIX}/{path[:2]}/{path[2:4]}/{path[4:]}/{filename}",
        sha256=digest,
        # Within a factor of two of the real wheel's size, like neighbouring releases.
        size=max(1024, pinned_size // 2 + int(digest[:8], 16) % max(1, pinned_size)),
        upload_time=release.upload_time,
        requires_python=release.requires_python,
        metadata_sha256=(
            fake_digest("metadata", filename) if wheel and release.has_metadata else None
        ),
        yanked=release.yanked,
    )
