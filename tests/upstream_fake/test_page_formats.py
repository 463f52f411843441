"""The fast page readers agree with pypi-simple, the reference reader of the Simple API, on every
page Hypothesis makes (JSON and HTML, relative and absolute links, a <base href>, yanks,
metadata, hostile text); and they read what pypi-simple leaves aside (PEP 714's legacy key)."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from unittest.mock import patch
from urllib.parse import urljoin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypi_simple import ProjectPage
from selectolax.lexbor import LexborHTMLParser

from stilton.upstream import page_formats
from stilton.upstream.page_formats import (
    RawLink,
    UnsupportedVersion,
    read_html_page,
    read_json_page,
)

PAGE_URL = "http://127.0.0.1:8000/simple/demo/"
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
HREFS = st.sampled_from(
    [
        "http://127.0.0.1:8000/files/",
        "https://127.0.0.1/packages/ab/cd/",
        "../../files/",
        "/files/",
        "files/",
    ]
)


@st.composite
def links(draw: st.DrawFn) -> dict[str, Any]:
    filename = draw(st.sampled_from(["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl"])) + draw(
        st.sampled_from(["", "x"])
    )
    return {
        "filename": filename,
        "href": draw(HREFS) + filename,
        "sha256": draw(st.none() | HEX64),
        "requires_python": draw(st.none() | st.sampled_from([">=3.8", "<4,>=3"]) | TEXT),
        "yanked": draw(st.sampled_from([False, True]) | TEXT.filter(bool)),
        "metadata": draw(st.sampled_from([False, True]) | HEX64),
    }


def json_page(entries: list[dict[str, Any]]) -> bytes:
    files = []
    for entry in entries:
        metadata = entry["metadata"]
        files.append(
            {
                "filename": entry["filename"],
                "url": entry["href"],
                "hashes": {"sha256": entry["sha256"]} if entry["sha256"] else {},
                "requires-python": entry["requires_python"],
                "yanked": entry["yanked"],
                "core-metadata": {"sha256": metadata} if isinstance(metadata, str) else metadata,
            }
        )
    document = {"meta": {"api-version": "1.1"}, "name": "demo", "files": files}
    return json.dumps(document).encode()


def html_page(entries: list[dict[str, Any]], base: str | None) -> bytes:
    anchors = []
    for entry in entries:
        href = entry["href"] + (f"#sha256={entry['sha256']}" if entry["sha256"] else "")
        attributes = [f'href="{escape(href)}"']
        if entry["requires_python"] is not None:
            attributes.append(f'data-requires-python="{escape(entry["requires_python"])}"')
        if entry["yanked"] is not False:
            reason = "" if entry["yanked"] is True else entry["yanked"]
            attributes.append(f'data-yanked="{escape(reason)}"')
        metadata = entry["metadata"]
        if metadata is not False:
            value = f"sha256={metadata}" if isinstance(metadata, str) else "true"
            attributes.append(f'data-core-metadata="{value}"')
        anchors.append(f"<a {' '.join(attributes)}>{escape(entry['filename'])}</a><br/>")
    head = f'<base href="{escape(base)}">' if base else ""
    return f"<html><head>{head}</head><body>{''.join(anchors)}</body></html>".encode()


def assert_same(ours: list[RawLink], reference: ProjectPage) -> None:
    assert len(ours) == len(reference.packages)
    for link, package in zip(ours, reference.packages, strict=True):
        assert link.filename == package.filename
        assert link.url == package.url
        assert link.hashes == package.digests
        assert link.requires_python == package.requires_python
        assert (link.yanked is not False) == package.is_yanked
        assert (link.yanked if isinstance(link.yanked, str) else None) == (
            package.yanked_reason or None
        )
        assert (link.metadata is not False) == bool(package.has_metadata)
        if isinstance(link.metadata, dict):
            assert link.metadata == package.metadata_digests


@settings(max_examples=150, deadline=None)
@given(st.lists(links(), max_size=6))
def test_json_pages_read_as_pypi_simple_reads_them(entries: list[dict[str, Any]]) -> None:
    body = json_page(entries)
    reference = ProjectPage.from_json_data(json.loads(body), base_url=PAGE_URL)
    assert_same(read_json_page(body, PAGE_URL).links, reference)


# Pages with more tags than this are read by the streaming parser, not into a tree.
READERS = {"tree": page_formats.TREE_TAGS, "stream": -1}


@pytest.mark.parametrize("tags", READERS.values(), ids=READERS.keys())
@settings(max_examples=150, deadline=None)
@given(st.lists(links(), max_size=6), st.none() | HREFS)
def test_html_pages_read_as_pypi_simple_reads_them(
    tags: int, entries: list[dict[str, Any]], base: str | None
) -> None:
    body = html_page(entries, base)
    reference = ProjectPage.from_html("demo", body, base_url=PAGE_URL, from_encoding="utf-8")
    for package in reference.packages:
        # pypi-simple keeps an empty data-yanked as yanked with reason "" (ours: no reason).
        if package.yanked_reason == "":
            package.yanked_reason = None
    with patch.object(page_formats, "TREE_TAGS", tags):
        assert_same(read_html_page(body, PAGE_URL).links, reference)


PAGE = PAGE_URL + "x.whl"


@pytest.mark.parametrize("tags", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<!-- <a href="x.whl">demo-1.0.tar.gz</a> -->', []),
        ("<script>let a = '<a href=\"x.whl\">demo-1.0.tar.gz</a>'</script>", []),
        ('<a name="top">demo-1.0.tar.gz</a>', []),  # no href
        ('<A HREF="x.whl" DATA-REQUIRES-PYTHON="&gt;=3.8">demo-1.0.tar.gz</A>', [(PAGE, ">=3.8")]),
        ('<a href="x.whl">demo-<b>1.0</b>.tar.gz</a>', [(PAGE, None)]),
        (
            '<a href="x.whl" data-requires-python=">=3.8 > 2">demo-1.0.tar.gz</a>',
            [(PAGE, ">=3.8 > 2")],
        ),
        ("<a href='x.whl' data-requires-python=&lt;4>demo-1.0.tar.gz</a>", [(PAGE, "<4")]),
        ('<a href="a&amp;b.whl">demo-1.0.tar.gz</a>', [(PAGE_URL + "a&b.whl", None)]),
        (
            '<base><base href="/up/"><a href="x.whl">demo-1.0.tar.gz</a>',
            [("http://127.0.0.1:8000/up/x.whl", None)],
        ),
    ],
)
def test_html_markup_is_read_as_browsers_read_it(
    tags: int, markup: str, expected: list[tuple[str, str | None]]
) -> None:
    body = f"<html><body>{markup}</body></html>".encode()
    with patch.object(page_formats, "TREE_TAGS", tags):
        links = read_html_page(body, PAGE_URL).links
    assert [(link.url, link.requires_python) for link in links] == expected
    assert all(link.filename == "demo-1.0.tar.gz" for link in links)


def test_a_page_of_too_many_tags_is_never_parsed_into_a_tree() -> None:
    """6 MB of nested tags would take ~400 MB as a tree: such a page streams instead."""
    body = ("<b>" * (page_formats.TREE_TAGS + 1) + '<a href="x.whl">demo-1.0.tar.gz</a>').encode()
    with patch.object(page_formats, "LexborHTMLParser", side_effect=AssertionError("a tree")):
        (link,) = read_html_page(body, PAGE_URL).links
    assert link.url == PAGE
    with patch.object(page_formats, "LexborHTMLParser", wraps=LexborHTMLParser) as parser:
        (link,) = read_html_page(b'<a href="x.whl">demo-1.0.tar.gz</a>', PAGE_URL).links
    assert parser.call_count == 1  # while a page of real links is parsed into a tree
    assert link.url == PAGE


def test_the_legacy_metadata_key_counts_too() -> None:
    digest = "a" * 64
    document = {
        "meta": {"api-version": "1.0"},
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "x.whl",
                "hashes": {},
                "data-dist-info-metadata": {"sha256": digest},
            }
        ],
    }
    (link,) = read_json_page(json.dumps(document).encode(), PAGE_URL).links
    assert link.metadata == {"sha256": digest}
    anchor = f'<a href="x.whl" data-dist-info-metadata="sha256={digest}">demo-1.0.tar.gz</a>'
    (html_link,) = read_html_page(anchor.encode(), PAGE_URL).links
    assert html_link.metadata == {"sha256": digest}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"meta": {"api-version": "2.0"}, "files": []}).encode(),
        b'<html><head><meta name="pypi:repository-version" content="2.1"></head></html>',
    ],
    ids=["json", "html"],
)
def test_a_newer_major_api_version_is_refused(body: bytes) -> None:
    reader = read_json_page if body.startswith(b"{") else read_html_page
    with pytest.raises(UnsupportedVersion, match="2"):
        reader(body, PAGE_URL)


SEGMENTS = st.sampled_from(["..", ".", "a", "b.whl", "", "x%20y", "c?d=1", "e#f", "g:h", "~i"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SEGMENTS, min_size=1, max_size=6).map("/".join),
    st.sampled_from(
        [
            PAGE_URL,
            "https://127.0.0.1/root/simple/demo/",
            "http://127.0.0.1:8000/simple/demo",
            "http://127.0.0.1/",
            "http://127.0.0.1/a/b/c/d/e/page.html?x=1",
        ]
    ),
)
def test_relative_links_resolve_as_urljoin_resolves_them(relative: str, base: str) -> None:
    document = {"meta": {"api-version": "1.1"}, "files": [{"filename": "f", "url": relative}]}
    (link,) = read_json_page(json.dumps(document).encode(), base).links
    assert link.url == urljoin(base, relative)
