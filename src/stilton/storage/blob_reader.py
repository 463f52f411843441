"""A seekable, read-only file over ranged reads of one blob: ``zipfile`` reads a wheel's
central directory and one member out of a blob in a bucket without downloading all of it."""

from __future__ import annotations

import io
from collections.abc import Callable

BUFFER = 256 * 1024  # bytes read ahead per request to the store

ReadRange = Callable[[int, int], bytes]  # (start, end exclusive) -> bytes


class RangeReader(io.RawIOBase):
    def __init__(self, read_range: ReadRange, size: int) -> None:
        super().__init__()
        self._read_range = read_range
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        end = min(self._position + len(buffer), self._size)
        if end <= self._position:
            return 0
        data = self._read_range(self._position, end)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_range_reader(read_range: ReadRange, size: int) -> io.BufferedReader:
    return io.BufferedReader(RangeReader(read_range, size), buffer_size=BUFFER)
