"""Project and index names: PEP 503 normalization of project names and the index-name slug
rules, as tables plus Hypothesis properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stilton.core.errors import InvalidInput
from stilton.core.names import normalize_project_name, parse_index_name

NORMALIZED = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# PEP 508 / core metadata: what a valid project name looks like, ASCII only.
VALID_PROJECT_NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", fullmatch=True)


# PEP 503 "Normalized Names" and its examples.
NORMALIZATION = [
    ("foo", "foo"),
    ("Foo", "foo"),
    ("FOO", "foo"),
    ("Foo.Bar", "foo-bar"),
    ("foo__bar", "foo-bar"),
    ("foo-bar", "foo-bar"),
    ("FOO-_.bar", "foo-bar"),
    ("friendly-bard", "friendly-bard"),
    ("Friendly-Bard", "friendly-bard"),
    ("FRIENDLY-BARD", "friendly-bard"),
    ("friendly.bard", "friendly-bard"),
    ("friendly_bard", "friendly-bard"),
    ("friendly--bard", "friendly-bard"),
    ("FrIeNdLy-._.-bArD", "friendly-bard"),
    ("a", "a"),
    ("7", "7"),
    ("zope.interface", "zope-interface"),
    ("Django", "django"),
    ("typing_extensions", "typing-extensions"),
    ("a.b_c-d", "a-b-c-d"),
    ("0x1", "0x1"),
]

INVALID_PROJECT_NAMES = [
    "",
    "-foo",
    "foo-",
    ".foo",
    "foo.",
    "_foo",
    "foo_",
    "-",
    "...",
    "foo bar",
    " foo",
    "foo ",
    "foo/bar",
    "foo\\bar",
    "..",
    "../foo",
    "foo\x00",
    "foo\tbar",
    "café",
    "naïve-pkg",
    "日本",
    "foo+bar",
    "foo@bar",
    "foo:bar",
    "foo\n",
    "ſ",
    "Kelvin\u212a",
    "\u0130stanbul",
    "\u0131",
]

VALID_INDEX_NAMES = [
    "main",
    "local",
    "a",
    "7",
    "team-a",
    "team_b",
    "pypi-mirror",
    "x" * 64,
    "a1-b2_c3",
]

INVALID_INDEX_NAMES = [
    "",
    "Main",
    "MAIN",
    "-main",
    "main-",
    "_main",
    "main_",
    "main.dev",
    "main index",
    "main/dev",
    "x" * 65,
    "café",
    # Reserved path segments.
    "simple",
    "api",
    "ui",
    "static",
    "files",
    "pypi",
    "-",
    "_",
    "legacy",
    "health",
    "main\n",
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZATION)
def test_normalize_project_name_follows_pep_503(raw: str, expected: str) -> None:
    assert normalize_project_name(raw) == expected


@pytest.mark.parametrize("raw", INVALID_PROJECT_NAMES)
def test_normalize_project_name_rejects_invalid_names(raw: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid project name"):
        normalize_project_name(raw)


@pytest.mark.parametrize("raw", VALID_INDEX_NAMES)
def test_parse_index_name_accepts_lowercase_slugs(raw: str) -> None:
    assert parse_index_name(raw) == raw


@pytest.mark.parametrize("raw", INVALID_INDEX_NAMES)
def test_parse_index_name_rejects_invalid_and_reserved_names(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_index_name(raw)


@given(VALID_PROJECT_NAMES)
def test_normalization_is_idempotent(raw: str) -> None:
    normalized = normalize_project_name(raw)
    assert normalize_project_name(normalized) == normalized


@given(VALID_PROJECT_NAMES)
def test_normalized_name_is_lowercase_with_single_dashes(raw: str) -> None:
    normalized = normalize_project_name(raw)
    assert NORMALIZED.fullmatch(normalized)
    # The reference formula from the PEP 503 text.
    assert normalized == re.sub(r"[-_.]+", "-", raw).lower()


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20))
def test_printable_ascii_is_either_rejected_or_normalized(raw: str) -> None:
    try:
        normalized = normalize_project_name(raw)
    except InvalidInput:
        return
    assert NORMALIZED.fullmatch(normalized)
