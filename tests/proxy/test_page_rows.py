"""A proxy's page held as rows renders the very bytes its files render as objects: straight
from the parse, after the kept document is read back (in this format or the one before it),
and with what the proxy learnt about its files applied as it applied to the objects."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stilton.core.filenames import PackageType
from stilton.core.model import Digests, ProjectDetail, find_file
from stilton.core.names import IndexName, normalize_project_name
from stilton.core.render_simple import render_project_detail_html, render_project_detail_json
from stilton.storage.upstream_cache import FileFacts
from stilton.upstream.compact import decode_file, decode_page, encode_page
from stilton.upstream.model import (
    SCANS_BEFORE_INDEXING,
    PageFiles,
    UpstreamFile,
    UpstreamPage,
    learnt_row,
)
from tests.proxy.test_page_fuzz import FUZZ

PROJECT = normalize_project_name("alpha")
GROUP = IndexName("main")
SHA = "ab" * 32
texts = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(['"]', "<a>", "\x00", "é"]))
moments = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=-5)))).map(
        lambda moment: moment.astimezone(UTC)  # as the parser gives every upload time
    ),
)


@st.composite
def upstream_files(draw: st.DrawFn, n: int) -> UpstreamFile:
    wheel = draw(st.booleans())
    filename = f"alpha-{n}.0-py3-none-any.whl" if wheel else f"alpha-{n}.0.tar.gz"
    upstream_metadata = wheel and draw(st.booleans())
    yanked_reason = draw(texts)
    return UpstreamFile(
        filename,
        f"{n}.0",
        PackageType.WHEEL if wheel else PackageType.SDIST,
        "py3" if wheel else "source",
        draw(st.none() | st.integers(0, 2**63 - 1)),
        Digests(draw(st.sampled_from(["", SHA, "cd" * 32]))),
        draw(moments),
        draw(texts) or None,
        yanked_reason is not None or draw(st.booleans()),
        yanked_reason or None,
        wheel,
        draw(st.none() | st.just("ef" * 32)) if upstream_metadata else None,
        None,
        draw(st.none() | st.just("http://127.0.0.1:9/provenance")),
        f"http://127.0.0.1:9/files/{filename}",
        upstream_metadata,
    )


@st.composite
def pages(draw: st.DrawFn) -> UpstreamPage:
    files = [draw(upstream_files(n)) for n in range(draw(st.integers(0, 6)))]
    return UpstreamPage.of(PROJECT, files, serial=draw(st.none() | st.integers(0, 9)))


def detail(files: PageFiles | tuple[UpstreamFile, ...]) -> ProjectDetail:
    return ProjectDetail(GROUP, PROJECT, PROJECT, files, ())


def both_ways(files: PageFiles) -> tuple[bytes, bytes]:
    """The page rendered from its rows, and from its files as objects."""
    served = files.hashed()
    objects = tuple(f for f in files if f.sha256)
    return render_project_detail_json(detail(served)), render_project_detail_json(detail(objects))


@FUZZ
@given(pages())
def test_rows_render_the_bytes_their_files_render(page: UpstreamPage) -> None:
    from_rows, from_objects = both_ways(page.files)
    assert from_rows == from_objects
    kept = decode_page(encode_page(page))
    assert kept == page
    assert both_ways(kept.files) == (from_rows, from_objects)
    for file in kept.files:
        assert decode_file(encode_page(page), file.filename).files.rows == [
            kept.files.find_row(file.filename)
        ]
    served = page.files.hashed()
    assert render_project_detail_html(detail(served)) == render_project_detail_html(
        detail(tuple(served))
    )


@FUZZ
@given(pages(), st.data())
def test_what_was_learnt_applies_to_rows_as_to_files(
    page: UpstreamPage, data: st.DataObject
) -> None:
    facts = {
        file.filename: FileFacts(
            file.filename,
            data.draw(st.sampled_from([SHA, "12" * 32])),
            data.draw(st.none() | st.integers(0, 99)),
            data.draw(st.none() | st.just("34" * 32)),
        )
        for file in page.files
        if data.draw(st.booleans())
    }
    learnt = page.files.learnt(facts)
    for file, row in zip(page.files, learnt.rows, strict=True):
        fact = facts.get(file.filename)
        expected = file
        if fact is not None and (not file.sha256 or fact.sha256 == file.sha256):
            expected = replace(
                file,
                digests=Digests(fact.sha256),
                size=file.size if file.size is not None else fact.size,
                metadata_sha256=file.metadata_sha256 or fact.metadata_sha256,
            )
        assert learnt.find(file.filename) == expected
        assert learnt_row(page.files.find_row(file.filename) or [], fact) == row
    assert both_ways(learnt)[0] == both_ways(learnt)[1]
    # Written and read back as kept, then learnt again, it is the same page.
    assert decode_page(encode_page(page)).files.learnt(facts) == learnt


def test_a_page_kept_in_the_format_before_renders_as_before() -> None:
    """Documents of format 1 wrote upload times as "+00:00"; read back, they render with
    "Z" as the upstream's page did."""
    when = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    file = UpstreamFile(
        "alpha-1.0.tar.gz", "1.0", PackageType.SDIST, "source", 10, Digests(SHA), when,
        ">=3.9", False, None, False, None, None, None, "http://127.0.0.1:9/a.tar.gz", False,
    )  # fmt: skip
    page = UpstreamPage.of(PROJECT, [file])
    entry = ["alpha-1.0.tar.gz", "http://127.0.0.1:9/a.tar.gz", "1.0", SHA, 10,
             "2026-01-02T03:04:05.600000+00:00", ">=3.9", False, False, None]  # fmt: skip
    document = {"v": 1, "project": PROJECT, "serial": None, "status": "active",
                "status_reason": None, "versions": [], "files": [entry]}  # fmt: skip
    old = zlib.compress(orjson.dumps(document))
    assert decode_page(old) == page
    assert both_ways(decode_page(old).files) == both_ways(page.files)
    assert b'"upload-time":"2026-01-02T03:04:05.600000Z"' in both_ways(page.files)[0]
    assert decode_file(old, "alpha-1.0.tar.gz").files == (file,)


def test_a_page_document_whose_files_are_not_rows_is_unreadable() -> None:
    document = {"v": 2, "project": PROJECT, "serial": None, "status": "active",
                "status_reason": None, "versions": [], "files": [["alpha-1.0.tar.gz"]]}  # fmt: skip
    with pytest.raises(ValueError, match="not a row"):
        decode_page(zlib.compress(orjson.dumps(document)))


def test_a_file_is_found_by_name_in_rows_as_in_objects() -> None:
    files = [
        UpstreamFile(
            f"alpha-{n}.0.tar.gz",
            f"{n}.0",
            PackageType.SDIST,
            "source",
            None,
            Digests(SHA),
            None,
            None,
            False,
            None,
            False,
            None,
            None,
            None,
            f"http://127.0.0.1:9/{n}",
            False,
        )
        for n in range(3)
    ]
    # A name listed twice is the first one, whether the table scans or has indexed its rows.
    twin = replace(files[1], url="http://127.0.0.1:9/twin")
    table = PageFiles.of([*files, twin])
    for _ in range(SCANS_BEFORE_INDEXING + 1):
        for file in files:
            assert find_file(table, file.filename) == file == find_file(tuple(files), file.filename)
        assert find_file(table, "alpha-9.0.tar.gz") is None
    assert find_file(tuple(files), "alpha-9.0.tar.gz") is None
