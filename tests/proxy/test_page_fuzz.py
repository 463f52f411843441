"""Upstream page parsing under fuzzing: JSON and HTML bodies built from strategies, well-formed
and hostile, give either a page that is safe to store and serve or an ``UpstreamError``, and
never any other exception."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stilton.core.errors import UpstreamError
from stilton.core.names import normalize_project_name
from stilton.upstream.model import ROW_JSON, UpstreamPage
from stilton.upstream.page_formats import read_typed_json_document
from stilton.upstream.pages import parse_project_page, read_json

PROJECT = normalize_project_name("alpha")
PAGE_URL = "http://127.0.0.1:9/simple/alpha/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
SHA256 = re.compile(r"[0-9a-f]{64}")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

filenames = st.integers(0, 3).flatmap(
    lambda n: (
        st.text(max_size=40)
        if n == 3
        else st.sampled_from(
            [
                "alpha-1.0.tar.gz",
                "alpha-1.0-py3-none-any.whl",
                "alpha-2.0rc1-cp312-cp312-manylinux_2_17_x86_64.whl",
                "beta-1.0.tar.gz",
                "../alpha-1.0.tar.gz",
                "alpha-1.0.tar.gz\x00",
                "",
            ]
        )
    )
)
urls = st.integers(0, 3).flatmap(
    lambda n: (
        st.text(max_size=40)
        if n == 3
        else st.sampled_from(
            [
                "http://127.0.0.1:9/files/alpha-1.0.tar.gz",
                "../../files/alpha-1.0.tar.gz",
                "file:///etc/passwd",
                "ftp://127.0.0.1/alpha-1.0.tar.gz",
                "javascript:alert(1)",
                "data:text/plain,alpha",
                "http://[::1",
                "//127.0.0.1:9/x",
                "http://user:secret@127.0.0.1:9/alpha-1.0.tar.gz",
            ]
        )
    )
)
digests = st.one_of(
    st.sampled_from(["zz", "0" * 63, "0" * 65, "A" * 64, "g" * 64, "ab" * 32, ""]),
    st.text(max_size=70),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner)
)
fields = st.one_of(scalars, json_values, urls, digests, filenames)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-formed value, sometimes any JSON value at all."""
    return st.integers(0, 9).flatmap(lambda n: fields if n == 9 else valid)


@st.composite
def json_files(draw: st.DrawFn) -> dict[str, Any]:
    file: dict[str, Any] = {
        "filename": draw(mostly(filenames)),
        "url": draw(mostly(urls)),
        "hashes": draw(mostly(st.fixed_dictionaries({"sha256": digests}))),
    }
    optional = {
        "size": st.integers(-1, 2**64),
        "upload-time": st.sampled_from(
            [
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:00:00.123456Z",
                "2024-01-01T01:30:00.5+01:30",
                "2024-01-01T00:00:00",  # no zone: UTC
                "2024-02-30T00:00:00Z",
                "yesterday",
                "",
            ]
        ),
        "yanked": st.one_of(st.booleans(), st.text(max_size=10)),
        "requires-python": st.text(max_size=10),
        "core-metadata": st.one_of(st.booleans(), st.fixed_dictionaries({"sha256": digests})),
        "provenance": st.sampled_from([None, "https://127.0.0.1:9/p", "ftp://127.0.0.1/p"]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            file[key] = draw(mostly(strategy))
    return file


@st.composite
def json_pages(draw: st.DrawFn) -> bytes:
    meta = {
        "api-version": draw(mostly(st.sampled_from(["1.0", "1.4"] * 4 + ["2.0", "x"]))),
        "_last-serial": draw(mostly(st.integers())),
    }
    page: dict[str, Any] = {
        "meta": draw(mostly(st.just(meta))),
        "name": draw(mostly(st.just("alpha"))),
        "files": draw(mostly(st.lists(json_files(), max_size=6))),
    }
    if draw(st.booleans()):
        page["versions"] = draw(mostly(st.lists(st.text(max_size=8), max_size=4)))
    if draw(st.booleans()):
        statuses = st.sampled_from(["active", "quarantined", "archived", "bogus"])
        page["project-status"] = draw(mostly(st.fixed_dictionaries({"status": statuses})))
    return json.dumps(page).encode()


@st.composite
def html_pages(draw: st.DrawFn) -> bytes:
    anchors = []
    for _ in range(draw(st.integers(0, 6))):
        href = (
            draw(urls)
            + draw(st.sampled_from(["", "#sha256=", "#", "#md5=x", "#="]))
            + draw(st.one_of(st.just(""), digests))
        )
        attributes = [f'href="{html.escape(href)}"']
        for name in ("data-core-metadata", "data-yanked", "data-requires-python"):
            if draw(st.booleans()):
                attributes.append(f'{name}="{html.escape(draw(st.text(max_size=70)))}"')
        text = html.escape(draw(filenames))
        anchors.append(f"<a {' '.join(attributes)}>{text}</a>")
    version = html.escape(draw(st.sampled_from(["1.0", "1.4", "2.0", "", "x.y"])))
    head = f'<meta name="pypi:repository-version" content="{version}">'
    nesting = draw(st.integers(0, 3000))
    noise = draw(st.text(max_size=60))
    body = "<div>" * nesting + "".join(anchors) + noise + "</div>" * nesting
    return f"<html><head>{head}</head><body>{body}</body></html>".encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.integers(1, 200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 200_000).map(lambda depth: b'{"a":' * depth),
    st.just(b'{"meta": {"api-version": "1.0"}, "name": "alpha", "files": [' + b"9" * 5000 + b"]}"),
    st.integers(1, 200_000).map(  # deep in a key no reader reads
        lambda depth: b'{"files": [], "x": ' + b"[" * depth + b"]" * depth + b"}"
    ),
)


def check(body: bytes, content_type: str) -> None:
    try:
        page = parse_project_page(PROJECT, body, content_type, PAGE_URL, None)
    except UpstreamError as exc:
        refusal = exc.message
    else:
        event(f"parsed, files offered: {min(len(page.files), 2)}{'+' * (len(page.files) > 1)}")
        assert_safe(page)
        return
    assert PAGE_URL in refusal
    event("refused")


def assert_safe(page: UpstreamPage) -> None:
    names = [f.filename for f in page.files]
    assert len(names) == len(set(names))
    for file in page.files:
        assert file.url.startswith(("http://", "https://"))
        assert not file.sha256 or SHA256.fullmatch(file.sha256)  # "": none given
        assert file.metadata_sha256 is None or SHA256.fullmatch(file.metadata_sha256)
        assert file.size is None or 0 <= file.size < 2**63
        assert "\x00" not in (file.requires_python or "") + (file.yanked_reason or "")
    assert page.serial is None or 0 <= page.serial < 2**63


@FUZZ
@given(json_pages())
def test_json_pages_parse_or_fail_cleanly(body: bytes) -> None:
    check(body, JSON_TYPE)


@FUZZ
@given(json_pages())
def test_typed_and_lenient_json_reading_agree(body: bytes) -> None:
    """msgspec types a page only when every value has its specified type; whatever page it
    takes, the rows are those of reading it field by field."""
    try:
        lenient = read_json(body, PAGE_URL, PROJECT, typed=False)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            read_json(body, PAGE_URL, PROJECT)
        return
    typed = read_json(body, PAGE_URL, PROJECT)
    assert orjson.dumps(typed[1], option=ROW_JSON) == orjson.dumps(lenient[1], option=ROW_JSON)
    facts = ("versions", "last_serial", "status", "status_reason")
    assert [getattr(typed[0], fact) for fact in facts] == [
        getattr(lenient[0], fact) for fact in facts
    ]
    event(f"typed: {read_typed_json_document(body) is not None}")


@FUZZ
@given(html_pages())
def test_html_pages_parse_or_fail_cleanly(body: bytes) -> None:
    check(body, HTML_TYPE)


@FUZZ
@given(raw_bodies, st.sampled_from([JSON_TYPE, HTML_TYPE, "text/plain", ""]))
def test_arbitrary_bodies_parse_or_fail_cleanly(body: bytes, content_type: str) -> None:
    check(body, content_type)
