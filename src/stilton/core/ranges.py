"""HTTP byte ranges (RFC 9110 §14): parse one ``Range`` header against a file's size."""

from __future__ import annotations

from dataclasses import dataclass

from stilton.core.errors import RangeNotSatisfiable


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for, or None to send the whole file.

    Unparseable headers and multi-range requests are ignored (RFC 9110 allows a server to send
    the whole representation); a syntactically valid range outside the file raises.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (_digits(first) or first == "") or not (_digits(last) or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)  # "bytes=-N": the last N bytes
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # RFC 9110 §14.1.1: an invalid range-spec; ignore the header
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))
