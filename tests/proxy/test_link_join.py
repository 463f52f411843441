"""A page's links are made absolute as ``urljoin`` makes them, however they are written (the
joiner resolves plain relative paths without it)."""

from __future__ import annotations

from urllib.parse import urljoin

from hypothesis import given
from hypothesis import strategies as st

from stilton.upstream.page_formats import joiner
from tests.proxy.test_page_fuzz import FUZZ

BASES = [
    "http://127.0.0.1:9/simple/alpha/",
    "http://127.0.0.1:9/simple/alpha/index.html?x=1#top",
    "https://127.0.0.2/a/./b/",
    "http://127.0.0.1:9",
]
segments = st.sampled_from(
    ["..", ".", "", "files", "ab", "x.whl", "b:c", "?q", "#f", "a\\b", ".hidden", "%2e%2e", "é"]
)
links = st.one_of(
    st.lists(segments, min_size=1, max_size=5).map("/".join),
    st.sampled_from(["http://127.0.0.3/x.whl", "/root/x.whl", "//127.0.0.2/x.whl"]),
)


@FUZZ
@given(st.sampled_from(BASES), st.lists(links, min_size=1, max_size=12))
def test_links_are_joined_as_urljoin_joins_them(base: str, urls: list[str]) -> None:
    join = joiner(base)
    for url in urls:
        assert join(url) == urljoin(base, url), url


def test_dots_and_delimiters_in_a_plain_directory_are_resolved_by_urljoin() -> None:
    join = joiner("http://127.0.0.1:9/simple/alpha/")
    assert join("../../files/x.whl") == "http://127.0.0.1:9/files/x.whl"
    for name in ["..", ".", "?q", "#f", "a\\b", ".x", "c:d", ""]:
        url = f"../../files/{name}"
        assert join(url) == urljoin("http://127.0.0.1:9/simple/alpha/", url)
