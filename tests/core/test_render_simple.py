"""Simple API renderers (PEP 503 HTML, PEP 691 JSON) tested by round trip through pypi_simple:
every decoration a file carries must come back identical from both wire formats."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version
from pypi_simple import DistributionPackage, IndexPage, ProjectPage, RepositoryPage

from stilton.core.filenames import PackageType
from stilton.core.model import (
    Digests,
    DistributionFile,
    ProjectDetail,
    ProjectStatus,
    ProjectSummary,
)
from stilton.core.names import IndexName, ProjectName, normalize_project_name
from stilton.core.render_simple import (
    render_project_detail_html,
    render_project_detail_json,
    render_project_list_html,
    render_project_list_json,
)
from stilton.core.urls import file_path

INDEX = IndexName("main")
SERVER = "https://stilton.example"
BASE_URL = f"{SERVER}/main/simple/"
UPLOADED = datetime(2024, 1, 17, 16, 53, 12, 779164, tzinfo=UTC)


def _hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _file(filename: str, **changes: Any) -> DistributionFile:
    """A file of project ``holygrail`` with no decorations unless ``changes`` add them."""
    wheel = filename.endswith(".whl")
    values: dict[str, Any] = {
        "filename": filename,
        "version": "1.0",
        "packagetype": PackageType.WHEEL if wheel else PackageType.SDIST,
        "python_version": "py3" if wheel else "source",
        "size": 1337,
        "digests": Digests(sha256=_hex(filename), blake2b_256=_hex("b2" + filename), md5="0" * 32),
        "upload_time": UPLOADED,
    }
    values.update(changes)
    return DistributionFile(**values)


def _detail(*files: DistributionFile, **changes: Any) -> ProjectDetail:
    values: dict[str, Any] = {
        "index": INDEX,
        "name": ProjectName("holygrail"),
        "display_name": "HolyGrail",
        "files": files,
        "versions": tuple(sorted({file.version for file in files}, key=Version)),
        "last_serial": 42,
    }
    values.update(changes)
    return ProjectDetail(**values)


def _url(file: DistributionFile) -> str:
    return SERVER + file_path(INDEX, file.sha256, file.filename)


def _from_html(detail: ProjectDetail) -> ProjectPage:
    html = render_project_detail_html(detail)
    return ProjectPage.from_html(detail.name, html, base_url=BASE_URL, from_encoding="utf-8")


def _from_json(detail: ProjectDetail) -> ProjectPage:
    return ProjectPage.from_json_data(json.loads(render_project_detail_json(detail)), BASE_URL)


def _status(page: ProjectPage) -> tuple[str | None, str | None]:
    return (page.status.value if page.status else None, page.status_reason)


Parser = Callable[[ProjectDetail], ProjectPage]


def _links(detail: ProjectDetail) -> list[dict[str, str | list[str]]]:
    page = RepositoryPage.from_html(render_project_detail_html(detail), from_encoding="utf-8")
    return [link.attrs for link in page.links]


def _json_files(detail: ProjectDetail) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = json.loads(render_project_detail_json(detail))["files"]
    return files


def _assert_same_file(package: DistributionPackage, file: DistributionFile) -> None:
    assert package.filename == file.filename
    assert package.url == _url(file)
    assert package.digests == {"sha256": file.sha256}
    assert package.requires_python == file.requires_python
    assert package.is_yanked is file.yanked
    # HTML says an unexplained yank with an empty attribute, JSON with `true`.
    expected_reason = (file.yanked_reason or None) if file.yanked else None
    assert (package.yanked_reason or None) == expected_reason
    assert bool(package.has_metadata) is file.has_metadata
    if file.has_metadata:
        hashes = {"sha256": file.metadata_sha256} if file.metadata_sha256 else {}
        assert package.metadata_digests == hashes
    else:
        assert package.metadata_digests is None
    assert package.provenance_url == file.provenance_url


# A release with every decoration: metadata with and without a hash, requires-python with
# "<" and ">", provenance, a yank with a reason, a bare yank, unknown size and upload time.
WHEEL = _file(
    "holygrail-1.0-py3-none-any.whl",
    requires_python=">=3.8,<4",
    has_metadata=True,
    metadata_sha256=_hex("metadata"),
    provenance_url="https://stilton.example/integrity/holygrail/1.0/provenance",
)
SDIST = _file(
    "holygrail-1.0.tar.gz",
    requires_python=">=3.8,<4",
    yanked=True,
    yanked_reason="Had a vulnerability",
)
OLD_WHEEL = _file("holygrail-0.9-py3-none-any.whl", version="0.9", yanked=True, has_metadata=True)
PLAIN = _file(
    "holygrail-0.8.zip",
    version="0.8",
    yanked_reason="ignored unless yanked",
    size=None,
    upload_time=None,
)
DECORATED = _detail(WHEEL, SDIST, OLD_WHEEL, PLAIN)


@pytest.mark.parametrize("parse", [_from_html, _from_json])
def test_every_decoration_round_trips(parse: Parser) -> None:
    page = parse(DECORATED)
    assert page.repository_version == "1.4"
    assert len(page.packages) == len(DECORATED.files)
    for package, file in zip(page.packages, DECORATED.files, strict=True):
        _assert_same_file(package, file)


def test_json_carries_pep_700_fields() -> None:
    page = _from_json(DECORATED)
    assert page.versions == ["0.8", "0.9", "1.0"]
    assert page.last_serial == "42"
    assert [package.size for package in page.packages] == [1337, 1337, 1337, None]
    assert [package.upload_time for package in page.packages] == [UPLOADED] * 3 + [None]
    wheel, *_, plain = _json_files(DECORATED)
    assert wheel["upload-time"] == "2024-01-17T16:53:12.779164Z"
    assert "size" not in plain
    assert "upload-time" not in plain


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (UPLOADED, "2024-01-17T16:53:12.779164Z"),
        (datetime(2024, 1, 17, 16, 53, 12, tzinfo=UTC), "2024-01-17T16:53:12Z"),
        (datetime(2024, 1, 17, 16, 53, 12, 5), "2024-01-17T16:53:12.000005Z"),  # naive: UTC
        (datetime.fromisoformat("2024-01-17T18:53:12.5+02:00"), "2024-01-17T16:53:12.500000Z"),
        (datetime(2024, 1, 17, 16, 53, 12, tzinfo=ZoneInfo("UTC")), "2024-01-17T16:53:12Z"),
    ],
)
def test_upload_times_are_utc_in_the_pep_700_form(moment: datetime, written: str) -> None:
    """yyyy-mm-ddThh:mm:ss[.ffffff]Z: UTC, a "Z", a fraction only where there is one."""
    (file,) = _json_files(_detail(_file("holygrail-1.0.tar.gz", upload_time=moment)))
    assert file["upload-time"] == written


def test_requires_python_is_html_escaped() -> None:
    html = render_project_detail_html(DECORATED).decode()
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    assert ">=3.8" not in html
    assert _json_files(DECORATED)[0]["requires-python"] == ">=3.8,<4"


def test_html_metadata_attributes_only_when_metadata_exists() -> None:
    html = render_project_detail_html(DECORATED).decode()
    assert 'data-core-metadata="false"' not in html
    assert 'data-dist-info-metadata="false"' not in html
    wheel, sdist, old_wheel, _ = _links(DECORATED)
    value = f"sha256={WHEEL.metadata_sha256}"
    assert (wheel["data-core-metadata"], wheel["data-dist-info-metadata"]) == (value, value)
    assert (old_wheel["data-core-metadata"], old_wheel["data-dist-info-metadata"]) == (
        "true",
        "true",
    )
    assert "data-core-metadata" not in sdist
    assert "data-dist-info-metadata" not in sdist


def test_provenance_is_advertised_only_when_known() -> None:
    wheel, sdist, *_ = _links(DECORATED)
    assert wheel["data-provenance"] == WHEEL.provenance_url
    assert "data-provenance" not in sdist
    wheel_json, sdist_json, *_ = _json_files(DECORATED)
    assert wheel_json["provenance"] == WHEEL.provenance_url
    assert "provenance" not in sdist_json


def test_html_marks_only_yanked_files() -> None:
    attributes = [link.get("data-yanked") for link in _links(DECORATED)]
    assert attributes == [None, "Had a vulnerability", "", None]


def test_json_metadata_keys_follow_pep_714() -> None:
    wheel, sdist, old_wheel, _ = _json_files(DECORATED)
    assert wheel["core-metadata"] == {"sha256": WHEEL.metadata_sha256}
    assert old_wheel["core-metadata"] is True
    assert sdist["core-metadata"] is False
    for file in (wheel, sdist, old_wheel):
        assert file["data-dist-info-metadata"] == file["core-metadata"]
    assert b'"dist-info-metadata"' not in render_project_detail_json(DECORATED)


@pytest.mark.parametrize(
    ("file", "expected"),
    [(WHEEL, False), (SDIST, "Had a vulnerability"), (OLD_WHEEL, True), (PLAIN, False)],
)
def test_json_yanked_is_false_true_or_the_reason(file: DistributionFile, expected: object) -> None:
    (rendered,) = _json_files(_detail(file))
    assert rendered["yanked"] == expected


@pytest.mark.parametrize("parse", [_from_html, _from_json])
@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ProjectStatus.ACTIVE, None),
        (ProjectStatus.ARCHIVED, 'Moved to "grail" <see & read>'),
        (ProjectStatus.DEPRECATED, "Use shrubbery instead."),
    ],
)
def test_project_status_round_trips(
    status: ProjectStatus, reason: str | None, parse: Parser
) -> None:
    page = parse(_detail(WHEEL, status=status, status_reason=reason))
    assert _status(page) == (status.value, reason)
    assert [package.filename for package in page.packages] == [WHEEL.filename]


@pytest.mark.parametrize("parse", [_from_html, _from_json])
def test_quarantined_project_offers_no_files(parse: Parser) -> None:
    page = parse(_detail(WHEEL, SDIST, status=ProjectStatus.QUARANTINED, status_reason="Malware"))
    assert page.packages == []
    assert _status(page) == ("quarantined", "Malware")


def test_project_detail_names_the_normalized_project() -> None:
    document = json.loads(render_project_detail_json(DECORATED))
    assert document["name"] == "holygrail"
    assert document["meta"] == {"api-version": "1.4", "_last-serial": 42}
    assert document["project-status"] == {"status": "active"}
    assert "<title>Links for holygrail</title>" in render_project_detail_html(DECORATED).decode()


PROJECTS = [
    ProjectSummary(ProjectName("holygrail"), "HolyGrail", last_serial=3),
    ProjectSummary(ProjectName("silly-walk"), "Silly_Walk", last_serial=7),
    ProjectSummary(ProjectName("a-b"), "A<&>B", last_serial=9),
]


def test_project_list_html_round_trips() -> None:
    html = render_project_list_html(PROJECTS)
    page = IndexPage.from_html(html, from_encoding="utf-8")
    assert page.projects == ["HolyGrail", "Silly_Walk", "A<&>B"]
    assert page.repository_version == "1.4"
    links = RepositoryPage.from_html(html, base_url=BASE_URL, from_encoding="utf-8").links
    assert [link.url for link in links] == [
        f"{BASE_URL}holygrail/",
        f"{BASE_URL}silly-walk/",
        f"{BASE_URL}a-b/",
    ]


def test_project_list_json_round_trips() -> None:
    document = json.loads(render_project_list_json(PROJECTS, last_serial=11))
    page = IndexPage.from_json_data(document)
    assert page.projects == ["HolyGrail", "Silly_Walk", "A<&>B"]
    assert (page.repository_version, page.last_serial) == ("1.4", "11")
    assert [project["_last-serial"] for project in document["projects"]] == [3, 7, 9]


def test_empty_project_list_round_trips() -> None:
    html = IndexPage.from_html(render_project_list_html([]), from_encoding="utf-8")
    document = IndexPage.from_json_data(json.loads(render_project_list_json([], 0)))
    assert (html.projects, document.projects) == ([], [])


# Hypothesis: whole project pages with arbitrary decorations.
PROJECT_NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,15}[A-Za-z0-9])?", fullmatch=True)
VERSIONS = st.builds(
    lambda release, suffix: f"{'.'.join(map(str, release))}{suffix}",
    st.lists(st.integers(0, 300), min_size=1, max_size=3),
    st.sampled_from(["", "a1", "rc2", ".post1", ".dev3", "+local.1"]),
)
HEX64 = st.binary(min_size=1, max_size=16).map(lambda data: hashlib.sha256(data).hexdigest())
SPECIFIERS = st.sampled_from(
    [">=3.8", ">=3.8,<4", "<4,>=3.9", ">3.7,<=3.12", "!=3.0.*,!=3.1.*,>=2.7", "~=3.10", "==3.*"]
)
# Free text with every character that needs escaping in HTML attributes.
REASONS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="<>&\"' =/ab", min_size=1, max_size=20),
    st.sampled_from(["<script>alert('x')</script>", 'say "no" & <leave>', "&amp; &lt;"]),
)
TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def project_details(draw: st.DrawFn) -> ProjectDetail:
    display_name = draw(PROJECT_NAMES)
    project = normalize_project_name(display_name)
    stem = project.replace("-", "_")
    files = []
    for version in draw(
        st.lists(VERSIONS, min_size=0, max_size=4, unique_by=lambda v: str(Version(v)))
    ):
        for suffix in draw(
            st.sets(st.sampled_from(["-py3-none-any.whl", ".tar.gz", ".zip"]), min_size=1)
        ):
            wheel = suffix.endswith(".whl")
            filename = f"{stem}-{version}{suffix}"
            has_metadata = wheel and draw(st.booleans())
            files.append(
                DistributionFile(
                    filename=filename,
                    version=version,
                    packagetype=PackageType.WHEEL if wheel else PackageType.SDIST,
                    python_version="py3" if wheel else "source",
                    size=draw(st.none() | st.integers(0, 2**40)),
                    digests=Digests(sha256=draw(HEX64), blake2b_256=draw(HEX64), md5="0" * 32),
                    upload_time=draw(st.none() | TIMES),
                    requires_python=draw(st.none() | SPECIFIERS),
                    yanked=draw(st.booleans()),
                    yanked_reason=draw(st.none() | REASONS),
                    has_metadata=has_metadata,
                    metadata_sha256=draw(st.none() | HEX64) if has_metadata else None,
                    provenance_url=draw(
                        st.none() | st.just(f"{SERVER}/integrity/{project}/{version}/{filename}")
                    ),
                )
            )
    status = draw(st.sampled_from([s for s in ProjectStatus if s is not ProjectStatus.QUARANTINED]))
    return ProjectDetail(
        index=INDEX,
        name=project,
        display_name=display_name,
        files=tuple(files),
        versions=tuple(dict.fromkeys(file.version for file in files)),
        status=status,
        status_reason=draw(st.none() | REASONS.filter(bool)),
        last_serial=draw(st.integers(0, 2**31)),
    )


@given(project_details())
def test_html_round_trip_preserves_every_file(detail: ProjectDetail) -> None:
    page = _from_html(detail)
    assert len(page.packages) == len(detail.files)
    for package, file in zip(page.packages, detail.files, strict=True):
        _assert_same_file(package, file)
    assert _status(page) == (detail.status.value, detail.status_reason)


@given(project_details())
def test_json_round_trip_preserves_every_file(detail: ProjectDetail) -> None:
    page = _from_json(detail)
    assert page.project == detail.name
    assert page.versions == list(detail.versions)
    assert len(page.packages) == len(detail.files)
    for package, file in zip(page.packages, detail.files, strict=True):
        _assert_same_file(package, file)
        assert (package.size, package.upload_time) == (file.size, file.upload_time)
    assert _status(page) == (detail.status.value, detail.status_reason)


@given(project_details())
def test_rendered_pages_never_carry_misleading_attributes(detail: ProjectDetail) -> None:
    for attributes, file in zip(_links(detail), detail.files, strict=True):
        assert ("data-yanked" in attributes) is file.yanked
        assert attributes.get("data-core-metadata") != "false"
        assert ("data-core-metadata" in attributes) is file.has_metadata
    for rendered in _json_files(detail):
        assert "dist-info-metadata" not in rendered
