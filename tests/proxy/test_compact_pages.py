"""The compact page document: a file read out of it alone is the file the whole page holds,
whatever its strings hold ("]", quotes, escapes), and a file it does not list is none."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st
from isal import isal_zlib

from stilton.core.filenames import PackageType
from stilton.core.model import Digests
from stilton.core.names import normalize_project_name
from stilton.upstream.compact import decode_file, decode_page, encode_page
from stilton.upstream.model import UpstreamFile, UpstreamPage
from tests.proxy.test_page_fuzz import FUZZ

PROJECT = normalize_project_name("alpha")
BASE = UpstreamFile(
    "alpha-1.0.tar.gz", "1.0", PackageType.SDIST, "source", 10, Digests("a" * 64),
    datetime(2024, 1, 2, tzinfo=UTC), None, False, None, False, None, None, None,
    "http://127.0.0.1:9/files/alpha-1.0.tar.gz", False,
)  # fmt: skip
texts = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(['"]', '],["', "\\]", "]]"]))


@st.composite
def pages(draw: st.DrawFn) -> UpstreamPage:
    count = draw(st.integers(0, 6))
    files = tuple(
        replace(
            BASE,
            filename=f"alpha-{n}.0.tar.gz",
            version=f"{n}.0",
            requires_python=draw(texts),
            yanked_reason=(reason := draw(texts)),
            yanked=reason is not None,
            url=f"http://127.0.0.1:9/{draw(st.text(max_size=8))}/alpha-{n}.0.tar.gz",
        )
        for n in range(count)
    )
    return UpstreamPage.of(PROJECT, files, serial=draw(st.none() | st.integers(0, 9)))


@FUZZ
@given(pages())
def test_a_file_alone_is_the_file_of_the_whole_page(page: UpstreamPage) -> None:
    document = encode_page(page)
    whole = decode_page(document)
    for file in whole.files:
        alone = decode_file(document, file.filename)
        assert alone.files == (file,)
        assert replace(alone, files=whole.files) == whole
    assert decode_file(document, "alpha-9.9.tar.gz").files == ()


@FUZZ
@given(pages())
def test_a_kept_document_is_plain_zlib_both_ways(page: UpstreamPage) -> None:
    """ISA-L writes and reads the documents, in zlib's own format: a process on the standard
    zlib (an older worker in a rolling upgrade, a migration) reads what it wrote, and it reads
    what they wrote."""
    document = encode_page(page)
    assert orjson.loads(zlib.decompress(document)) == orjson.loads(isal_zlib.decompress(document))
    rewritten = zlib.compress(zlib.decompress(document), 6)
    assert decode_page(rewritten) == decode_page(document) == page


@FUZZ
@given(pages(), st.data())
def test_a_damaged_document_is_unreadable(page: UpstreamPage, data: st.DataObject) -> None:
    """A kept document cut short or with a changed byte is a ValueError (the proxy then fetches
    the page again), never a decompressor's own exception, and never another page: the zlib
    format's checksum is checked."""
    document = encode_page(page)
    at = data.draw(st.integers(0, len(document) - 1))
    flipped = document[:at] + bytes([document[at] ^ data.draw(st.integers(1, 255))])
    damaged = data.draw(st.sampled_from([document[:at], flipped + document[at + 1 :]]))
    try:
        read = decode_page(damaged)
    except ValueError:
        return
    assert read == page  # a bit the format ignores (the header's compression level)
