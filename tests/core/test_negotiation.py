"""Simple API content negotiation (PEP 691): the Accept header each real client sends maps to
the representation it must get, and ``?format=`` overrides Accept."""

from __future__ import annotations

import pypi_simple
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stilton.core.errors import NotAcceptable
from stilton.core.negotiation import SimpleFormat, select_format

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"

TEXT = SimpleFormat.TEXT_HTML
HTML = SimpleFormat.V1_HTML
JSON = SimpleFormat.V1_JSON

# PROTOCOLS.md §1.5 and §4: what each client sends, and what it must get.
NEGOTIATION: list[tuple[str | None, SimpleFormat]] = [
    # No header means "*/*"; PyPI answers text/html, as does hatch's httpx default.
    (None, TEXT),
    ("", TEXT),
    ("   ", TEXT),
    ("*/*", TEXT),
    # dependabot, and pip < 22.2.
    ("text/html", TEXT),
    (V1_HTML, HTML),
    # poetry PyPiRepository sends only the JSON type.
    (V1_JSON, JSON),
    # "latest" resolves to the concrete v1 type.
    (LATEST_JSON, JSON),
    (LATEST_HTML, HTML),
    # pip >= 22.2, pdm (unearth), pipenv, renovate.
    (f"{V1_JSON}, {V1_HTML}; q=0.1, text/html; q=0.01", JSON),
    # uv.
    (f"{V1_JSON}, {V1_HTML};q=0.2, text/html;q=0.01", JSON),
    # poetry LegacyRepository.
    (f"{V1_JSON}, */*;q=0.1", JSON),
    # pypi_simple's own headers (mirroring tools); equal q-values tie-break to HTML, as on PyPI.
    (pypi_simple.ACCEPT_ANY, HTML),
    (pypi_simple.ACCEPT_HTML_ONLY, HTML),
    (pypi_simple.ACCEPT_HTML_PREFERRED, HTML),
    (pypi_simple.ACCEPT_JSON_ONLY, JSON),
    (pypi_simple.ACCEPT_JSON_PREFERRED, JSON),
    # Preferences by q-value, order in the header carries no meaning.
    (f"text/html, {V1_JSON};q=0.5", TEXT),
    (f"{V1_JSON};q=0.5, text/html", TEXT),
    (f"{V1_JSON};q=0.4, {V1_HTML};q=0.9", HTML),
    # q-values with three decimals.
    (f"{V1_JSON};q=0.001, text/html;q=0.002", TEXT),
    (f"{V1_JSON};q=0.999, {V1_HTML};q=1.000", HTML),
    (f"{V1_HTML};q=0.101, {V1_JSON};q=0.1", HTML),
    # q=0 excludes a type, even when a wildcard would match it.
    ("text/html;q=0, */*;q=0.5", HTML),
    (f"*/*, text/html;q=0, {V1_HTML};q=0", JSON),
    (f"{V1_JSON};q=0, */*;q=0.1", TEXT),
    # Wildcard subtypes; ties keep the offer order (HTML before JSON), as on PyPI.
    ("application/*", HTML),
    (f"application/*, {V1_HTML};q=0", JSON),
    ("application/*;q=0.5, text/html;q=0.4", HTML),
    ("text/*", TEXT),
    (f"text/*;q=0.2, {V1_JSON};q=0.3", JSON),
    # Case-insensitive types and parameter names.
    (V1_JSON.upper(), JSON),
    ("Text/HTML", TEXT),
    (f"{V1_JSON}; Q=0.5, text/html;q=0.4", JSON),
    # Whitespace around every part.
    (f"  {V1_JSON} ;  q = 0.5 ,text/html ; q=0.4  ", JSON),
    (f"{V1_HTML}\t;q=0.3,\ttext/html;q=0.2", HTML),
    # Other parameters are ignored.
    (f"{V1_JSON}; charset=utf-8", JSON),
    # Malformed or out-of-range q-values count as 0 (or clip to 1).
    (f"{V1_JSON};q=abc, text/html;q=0.1", TEXT),
    (f"{V1_JSON};q=, text/html;q=0.1", TEXT),
    (f"{V1_JSON};q=-1, text/html;q=0.1", TEXT),
    (f"{V1_JSON};q=nan, text/html;q=0.1", TEXT),
    (f"{V1_JSON};q=7, text/html;q=0.9", JSON),
    # Entries that are not media ranges are skipped.
    (f"garbage, {V1_JSON}", JSON),
]

NOT_ACCEPTABLE = [
    "application/json",
    "image/png",
    "text/plain",
    "text/html;q=0",
    "*/*;q=0",
    f"{V1_JSON};q=0",
    "application/vnd.pypi.simple.v2+json",
    "application/vnd.pypi.simple.v1+xml",
    "garbage",
    "text/html;q=abc",
    ",,,",
]

FORMAT_PARAMETER: list[tuple[str, str | None, SimpleFormat]] = [
    (V1_JSON, "text/html", JSON),
    (V1_JSON, None, JSON),
    ("text/html", V1_JSON, TEXT),
    (V1_HTML, V1_JSON, HTML),
    (LATEST_JSON, "text/html", JSON),
    (LATEST_HTML, V1_JSON, HTML),
    (V1_HTML.upper(), V1_JSON, HTML),
    (f" {V1_JSON} ", None, JSON),
    # A format nothing in Accept names still wins.
    (V1_JSON, "image/png", JSON),
]

UNKNOWN_FORMATS = [
    "application/json",
    "*/*",
    "json",
    "html",
    f"{V1_JSON};q=1",
    "application/vnd.pypi.simple.v2+json",
]


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_accept_header_selects_format(accept: str | None, expected: SimpleFormat) -> None:
    assert select_format(accept) is expected


@pytest.mark.parametrize("accept", NOT_ACCEPTABLE)
def test_nothing_acceptable_raises_not_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        select_format(accept)


@pytest.mark.parametrize(("format_param", "accept", "expected"), FORMAT_PARAMETER)
def test_format_parameter_overrides_accept(
    format_param: str, accept: str | None, expected: SimpleFormat
) -> None:
    assert select_format(accept, format_param) is expected


@pytest.mark.parametrize("format_param", UNKNOWN_FORMATS)
def test_unknown_format_parameter_is_rejected(format_param: str) -> None:
    with pytest.raises(NotAcceptable, match="Unsupported format"):
        select_format(V1_JSON, format_param)


@pytest.mark.parametrize("format_param", [None, ""])
def test_absent_format_parameter_falls_back_to_accept(format_param: str | None) -> None:
    assert select_format(V1_HTML, format_param) is HTML


@pytest.mark.parametrize(
    ("chosen", "content_type", "is_json"),
    [
        (TEXT, "text/html; charset=utf-8", False),
        (HTML, V1_HTML, False),
        (JSON, V1_JSON, True),
    ],
)
def test_format_names_its_concrete_content_type(
    chosen: SimpleFormat, content_type: str, is_json: bool
) -> None:
    assert chosen.content_type == content_type
    assert chosen.is_json is is_json


def test_latest_alias_exclusion_does_not_depend_on_header_order() -> None:
    assert select_format(f"{V1_JSON}, {LATEST_JSON};q=0") is JSON
    assert select_format(f"{LATEST_JSON};q=0, {V1_JSON}") is JSON


# Media ranges without the "latest" aliases, each listed at most once.
ACCEPT_ITEMS = st.lists(
    st.tuples(
        st.sampled_from(
            ["text/html", V1_HTML, V1_JSON, "*/*", "application/*", "text/*", "image/png"]
        ),
        st.sampled_from(["", ";q=0", ";q=0.01", ";q=0.1", ";q=0.5", ";q=0.999", ";q=1"]),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda item: item[0],
)


def _select_or_none(accept: str) -> SimpleFormat | None:
    try:
        return select_format(accept)
    except NotAcceptable:
        return None


@given(st.data())
def test_order_of_accept_entries_does_not_matter(data: st.DataObject) -> None:
    items = data.draw(ACCEPT_ITEMS)
    shuffled = data.draw(st.permutations(items))
    header = ", ".join(media + q for media, q in items)
    reordered = ", ".join(media + q for media, q in shuffled)
    assert _select_or_none(header) is _select_or_none(reordered)


def _reference_choice(items: list[tuple[str, str]]) -> SimpleFormat | None:
    """RFC 9110 §12.5.1 by hand: the most specific range gives each offer its q; the highest
    q wins, ties keep the offer order (text/html, v1+html, v1+json), q=0 is never chosen."""
    ranges = {media: float(q.removeprefix(";q=")) if q else 1.0 for media, q in items}
    best, best_q = None, 0.0
    for offer in (TEXT, HTML, JSON):
        kind = offer.value.split("/")[0]
        specific_first = [offer.value, f"{kind}/*", "*/*"]
        q = next((ranges[media] for media in specific_first if media in ranges), 0.0)
        if q > best_q:
            best, best_q = offer, q
    return best


@given(ACCEPT_ITEMS)
def test_selection_matches_the_rfc_9110_reference(items: list[tuple[str, str]]) -> None:
    header = ", ".join(media + q for media, q in items)
    assert _select_or_none(header) is _reference_choice(items)
