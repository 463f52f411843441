"""Single byte ranges (RFC 9110 §14) against a file's size: satisfiable ranges are clipped to
the file, ranges outside it raise, and anything else is ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stilton.core.errors import RangeNotSatisfiable
from stilton.core.ranges import ByteRange, parse_range

SIZE = 100

# (header, expected (start, end)) against a 100-byte file.
SATISFIABLE = [
    ("bytes=0-99", (0, 99)),
    ("bytes=0-0", (0, 0)),
    ("bytes=10-19", (10, 19)),
    ("bytes=99-99", (99, 99)),
    # Open-ended (pip resuming a download).
    ("bytes=0-", (0, 99)),
    ("bytes=10-", (10, 99)),
    ("bytes=99-", (99, 99)),
    # Suffix ranges (poetry's lazy wheel); longer than the file means all of it.
    ("bytes=-10", (90, 99)),
    ("bytes=-1", (99, 99)),
    ("bytes=-100", (0, 99)),
    ("bytes=-500", (0, 99)),
    # An end beyond the file is clipped.
    ("bytes=50-500", (50, 99)),
    ("bytes=0-100", (0, 99)),
    # Case and whitespace.
    ("BYTES=0-9", (0, 9)),
    ("Bytes=0-9", (0, 9)),
    (" bytes = 1 - 2 ", (1, 2)),
]

UNSATISFIABLE = [
    ("bytes=100-", SIZE),
    ("bytes=100-200", SIZE),
    ("bytes=1000-", SIZE),
    ("bytes=-0", SIZE),
    # Every range of an empty file is outside it.
    ("bytes=0-", 0),
    ("bytes=0-0", 0),
    ("bytes=-5", 0),
]

IGNORED: list[str | None] = [
    None,
    "",
    # Multi-range requests get the whole file.
    "bytes=0-1,5-6",
    "bytes=0-1, 5-6",
    "bytes=-1,0-",
    # Other units.
    "items=0-1",
    "bits=0-1",
    # Reversed.
    "bytes=5-1",
    "bytes=99-0",
    # Garbage.
    "bytes",
    "bytes 0-1",
    "=0-1",
    "bytes=",
    "bytes=-",
    "bytes=1",
    "bytes=abc",
    "bytes=a-b",
    "bytes=1-2-3",
    "bytes=+1-2",
    "bytes=0x1-2",
    "bytes=-1.5",
    "bytes=1.0-2",
    "bytes=--1",
]


@pytest.mark.parametrize(("header", "expected"), SATISFIABLE)
def test_parse_range_returns_the_clipped_range(header: str, expected: tuple[int, int]) -> None:
    assert parse_range(header, SIZE) == ByteRange(*expected)


@pytest.mark.parametrize(("header", "size"), UNSATISFIABLE)
def test_range_outside_the_file_is_not_satisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, size)
    assert raised.value.size == size


@pytest.mark.parametrize("header", IGNORED)
def test_invalid_or_unsupported_range_is_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=\u00b2-", "bytes=0-\u00b9", "bytes=-\u00b3"])
def test_non_ascii_digits_are_ignored(header: str) -> None:
    assert parse_range(header, SIZE) is None


def test_fullwidth_digits_are_ignored() -> None:
    assert parse_range("bytes=\uff11-", SIZE) is None


@pytest.mark.parametrize(
    ("byte_range", "size", "length", "content_range"),
    [
        (ByteRange(0, 0), 1, 1, "bytes 0-0/1"),
        (ByteRange(10, 19), 100, 10, "bytes 10-19/100"),
        (ByteRange(0, 99), 100, 100, "bytes 0-99/100"),
    ],
)
def test_byte_range_length_and_content_range(
    byte_range: ByteRange, size: int, length: int, content_range: str
) -> None:
    assert byte_range.length == length
    assert byte_range.content_range(size) == content_range


SIZES = st.integers(min_value=1, max_value=10**9)


@st.composite
def satisfiable_headers(draw: st.DrawFn, size: int) -> tuple[str, ByteRange]:
    """A valid, satisfiable Range header for ``size`` bytes and the range it must give."""
    form = draw(st.sampled_from(["closed", "open", "suffix"]))
    if form == "suffix":
        suffix = draw(st.integers(min_value=1, max_value=2 * size))
        return f"bytes=-{suffix}", ByteRange(max(size - suffix, 0), size - 1)
    start = draw(st.integers(min_value=0, max_value=size - 1))
    if form == "open":
        return f"bytes={start}-", ByteRange(start, size - 1)
    end = draw(st.integers(min_value=start, max_value=2 * size))
    return f"bytes={start}-{end}", ByteRange(start, min(end, size - 1))


@given(st.data(), SIZES)
def test_satisfiable_ranges_stay_inside_the_file(data: st.DataObject, size: int) -> None:
    header, expected = data.draw(satisfiable_headers(size))
    parsed = parse_range(header, size)
    assert parsed is not None
    assert 0 <= parsed.start <= parsed.end < size
    assert parsed == expected
    assert parsed.length == expected.end - expected.start + 1


@given(SIZES, st.integers(min_value=0, max_value=10**6), st.booleans())
def test_ranges_starting_past_the_end_are_not_satisfiable(
    size: int, beyond: int, closed: bool
) -> None:
    start = size + beyond
    header = f"bytes={start}-{start + 1}" if closed else f"bytes={start}-"
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)
