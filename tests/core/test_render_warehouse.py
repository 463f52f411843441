"""The Warehouse JSON API renderer (PROTOCOLS.md §2): which release is "latest", how a version
is looked up, and the fields of each file object."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from stilton.core.errors import NotFound
from stilton.core.filenames import PackageType
from stilton.core.model import Digests, DistributionFile, ProjectDetail, Release
from stilton.core.names import IndexName, ProjectName
from stilton.core.render_warehouse import find_release_version, render_warehouse_json

INDEX = IndexName("main")
BASE_URL = "https://stilton.example"
UPLOADED = datetime(2024, 1, 17, 16, 53, 12, 779164, tzinfo=UTC)


def _digests(filename: str) -> Digests:
    data = filename.encode()
    return Digests(
        sha256=hashlib.sha256(data).hexdigest(),
        blake2b_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
    )


def _wheel(version: str, **changes: Any) -> DistributionFile:
    filename = f"holygrail-{version}-py3-none-any.whl"
    values: dict[str, Any] = {
        "filename": filename,
        "version": version,
        "packagetype": PackageType.WHEEL,
        "python_version": "py3",
        "size": 1337,
        "digests": _digests(filename),
        "upload_time": UPLOADED,
    }
    values.update(changes)
    return DistributionFile(**values)


def _sdist(version: str, **changes: Any) -> DistributionFile:
    filename = f"holygrail-{version}.tar.gz"
    changes = {
        "filename": filename,
        "packagetype": PackageType.SDIST,
        "python_version": "source",
        "digests": _digests(filename),
        **changes,
    }
    return _wheel(version, **changes)


def _detail(
    released: list[str], yanked: frozenset[str] = frozenset(), **changes: Any
) -> ProjectDetail:
    """A project with one wheel and one release per version in ``released``."""
    releases = {
        version: Release(version, {"summary": f"Release {version}"}, yanked=version in yanked)
        for version in released
    }
    values: dict[str, Any] = {
        "index": INDEX,
        "name": ProjectName("holygrail"),
        "display_name": "HolyGrail",
        "files": tuple(_wheel(version) for version in released),
        "versions": tuple(released),
        "releases": releases,
        "last_serial": 7,
    }
    values.update(changes)
    return ProjectDetail(**values)


def _render(detail: ProjectDetail, version: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_warehouse_json(detail, version, BASE_URL))
    return document


# (versions, yanked versions, the latest one) — PyPI: non-yanked, then final, then highest.
LATEST = [
    (["1.0"], set(), "1.0"),
    (["1.0", "1.1", "2.0rc1"], set(), "1.1"),
    (["2.0rc1", "1.1", "1.0"], set(), "1.1"),
    (["1.0", "1.1"], {"1.1"}, "1.0"),
    (["1.0", "2.0rc1"], {"1.0"}, "2.0rc1"),
    (["1.0", "1.1"], {"1.0", "1.1"}, "1.1"),
    (["1.0", "1.1a1"], {"1.0", "1.1a1"}, "1.0"),
    (["2.0b1", "2.0rc1", "2.0a3"], set(), "2.0rc1"),
    (["1.0.dev1"], set(), "1.0.dev1"),
    (["1.0", "1.0.post1"], set(), "1.0.post1"),
    (["9.0", "10.0"], set(), "10.0"),
    (["1.0", "1!0.1"], set(), "1!0.1"),
    (["1.0", "1.0+local"], set(), "1.0+local"),
]


@pytest.mark.parametrize(("versions", "yanked", "latest"), LATEST)
def test_project_document_describes_the_latest_release(
    versions: list[str], yanked: set[str], latest: str
) -> None:
    document = _render(_detail(versions, frozenset(yanked)))
    assert document["info"]["version"] == latest
    assert document["info"]["summary"] == f"Release {latest}"
    assert [file["filename"] for file in document["urls"]] == [
        f"holygrail-{latest}-py3-none-any.whl"
    ]


def test_versions_without_a_release_are_not_latest() -> None:
    detail = _detail(["1.0"], versions=("1.0", "2.0"))
    assert _render(detail)["info"]["version"] == "1.0"


def test_project_without_releases_is_not_found() -> None:
    with pytest.raises(NotFound):
        render_warehouse_json(_detail([]), None, BASE_URL)


# (stored versions, requested, found) — lookup is by canonical version.
LOOKUP = [
    (["1.0"], "1.0", "1.0"),
    (["1.0"], "1.0.0", "1.0"),
    (["1.0"], "1", "1.0"),
    (["1.0.0"], "1.0", "1.0.0"),
    (["1.0"], "v1.0", "1.0"),
    (["1.0"], "01.00", "1.0"),
    (["2.0rc1"], "2.0RC1", "2.0rc1"),
    (["2.0rc1"], "2.0-rc.1", "2.0rc1"),
    (["1.0", "1.0.0"], "1.0.0", "1.0.0"),
    (["1.0", "1.1"], "1.1.0", "1.1"),
]


@pytest.mark.parametrize(("stored", "requested", "found"), LOOKUP)
def test_find_release_version_matches_canonically(
    stored: list[str], requested: str, found: str
) -> None:
    detail = _detail(stored)
    assert find_release_version(detail, requested) == found
    assert _render(detail, requested)["info"]["version"] == found


@pytest.mark.parametrize("requested", ["9.9", "1.0.1", "1.0a1", "1.0.post1", "nope", "2"])
def test_unknown_version_is_not_found(requested: str) -> None:
    detail = _detail(["1.0", "1.1"])
    with pytest.raises(NotFound):
        find_release_version(detail, requested)
    with pytest.raises(NotFound):
        render_warehouse_json(detail, requested, BASE_URL)


def test_version_document_has_no_releases_and_only_its_files() -> None:
    detail = _detail(["1.0", "1.1"], files=(_wheel("1.0"), _sdist("1.0"), _wheel("1.1")))
    document = _render(detail, "1.0")
    assert "releases" not in document
    assert [file["filename"] for file in document["urls"]] == [
        "holygrail-1.0-py3-none-any.whl",
        "holygrail-1.0.tar.gz",
    ]
    assert document["vulnerabilities"] == []
    assert document["ownership"] == {"roles": [], "organization": None}
    assert document["last_serial"] == 7


def test_project_document_lists_every_release_in_version_order() -> None:
    detail = _detail(["10.0", "2.0", "2.0rc1"], files=(_wheel("2.0"), _sdist("2.0")))
    releases = _render(detail)["releases"]
    assert list(releases) == ["2.0rc1", "2.0", "10.0"]
    assert [file["filename"] for file in releases["2.0"]] == [
        "holygrail-2.0-py3-none-any.whl",
        "holygrail-2.0.tar.gz",
    ]
    assert releases["10.0"] == []


def test_wheel_file_fields() -> None:
    wheel = _wheel(
        "1.0",
        requires_python=">=3.8",
        metadata_sha256="ab" * 32,
        comment="built by hand",
    )
    (file,) = _render(_detail(["1.0"], files=(wheel,)))["urls"]
    assert file == {
        "filename": "holygrail-1.0-py3-none-any.whl",
        "packagetype": "bdist_wheel",
        "python_version": "py3",
        "has_sig": False,
        "comment_text": "built by hand",
        "md5_digest": wheel.digests.md5,
        "digests": {
            "md5": wheel.digests.md5,
            "sha256": wheel.digests.sha256,
            "blake2b_256": wheel.digests.blake2b_256,
        },
        "core-metadata": {"sha256": "ab" * 32},
        "size": 1337,
        "downloads": -1,
        "upload_time": "2024-01-17T16:53:12",
        "upload_time_iso_8601": "2024-01-17T16:53:12.779164Z",
        "url": f"{BASE_URL}/main/files/{wheel.sha256}/holygrail-1.0-py3-none-any.whl",
        "requires_python": ">=3.8",
        "yanked": False,
        "yanked_reason": None,
    }


def test_sdist_file_fields() -> None:
    sdist = _sdist("1.0", yanked=True, yanked_reason="Broken build")
    (file,) = _render(_detail(["1.0"], files=(sdist,)))["urls"]
    assert (file["packagetype"], file["python_version"]) == ("sdist", "source")
    assert file["core-metadata"] is False
    assert (file["requires_python"], file["comment_text"]) == (None, "")
    assert (file["yanked"], file["yanked_reason"]) == (True, "Broken build")
    assert file["url"] == f"{BASE_URL}/main/files/{sdist.sha256}/holygrail-1.0.tar.gz"


def test_unknown_digests_size_and_upload_time_are_left_out() -> None:
    # A proxy may know only the sha256 of an upstream file until it fetches it.
    wheel = _wheel("1.0", digests=Digests(sha256="cd" * 32), size=None, upload_time=None)
    (file,) = _render(_detail(["1.0"], files=(wheel,)))["urls"]
    assert file["digests"] == {"sha256": "cd" * 32}
    assert (file["md5_digest"], file["size"]) == (None, None)
    assert (file["upload_time"], file["upload_time_iso_8601"]) == (None, None)


def test_file_url_quotes_the_filename() -> None:
    wheel = _wheel("1.0+local")
    (file,) = _render(_detail(["1.0+local"], files=(wheel,)))["urls"]
    assert file["url"].endswith("/holygrail-1.0%2Blocal-py3-none-any.whl")


def test_upload_times_name_the_same_utc_instant() -> None:
    local = UPLOADED.astimezone(timezone(timedelta(hours=2)))
    (file,) = _render(_detail(["1.0"], files=(_wheel("1.0", upload_time=local),)))["urls"]
    assert file["upload_time_iso_8601"] == "2024-01-17T16:53:12.779164Z"
    assert file["upload_time"] == "2024-01-17T16:53:12"


def test_info_comes_from_the_release_metadata() -> None:
    release = Release(
        "1.0",
        {"name": "HolyGrail", "summary": "Find it", "requires_dist": ["spam>=2"]},
        yanked=True,
        yanked_reason="Found a better one",
    )
    detail = _detail(["1.0"], releases={"1.0": release})
    info = _render(detail, "1.0")["info"]
    assert (info["name"], info["summary"], info["requires_dist"]) == (
        "HolyGrail",
        "Find it",
        ["spam>=2"],
    )
    assert (info["yanked"], info["yanked_reason"]) == (True, "Found a better one")
    assert info["package_url"] == f"{BASE_URL}/main/simple/holygrail/"
    assert info["project_url"] == info["package_url"]
    assert info["release_url"] == f"{BASE_URL}/main/pypi/holygrail/1.0/json"
    assert info["downloads"] == {"last_day": -1, "last_month": -1, "last_week": -1}
    assert (info["bugtrack_url"], info["docs_url"]) == (None, None)


def test_info_name_falls_back_to_the_display_name() -> None:
    info = _render(_detail(["1.0"]))["info"]
    assert info["name"] == "HolyGrail"
    assert (info["yanked"], info["yanked_reason"]) == (False, None)
