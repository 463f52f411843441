"""Read a wheel's METADATA from an upstream with HTTP range requests, without downloading the
wheel: the zip's central directory is at its end, so a few small ranges are enough."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

from stilton.core.filenames import DistributionFilename
from stilton.core.metadata import read_wheel_metadata

TAIL = 64 * 1024  # the end of the file: end-of-central-directory and usually the directory
MIN_FETCH = 16 * 1024
MAX_ROUNDS = 8
# All ranges of one wheel together; a central directory claiming more (as a hostile zip can)
# is not chased: the caller falls back to downloading the wheel, under the download limits.
MAX_FETCHED = 32 * 2**20

RangeFetcher = Callable[[int, int], Awaitable[bytes | None]]  # (start, end inclusive)


class MissingRange(Exception):
    def __init__(self, start: int, length: int) -> None:
        super().__init__(start, length)
        self.start = start
        self.length = length


class SparseFile(io.RawIOBase):
    """A seekable file of known size holding only some of its bytes; reading a part it does
    not hold raises MissingRange, so the caller can fetch it and try again."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.parts: list[tuple[int, bytes]] = []

    def add(self, start: int, data: bytes) -> None:
        self.parts.append((start, data))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self.position)
        if wanted <= 0:
            return 0
        for start, data in self.parts:
            if start <= self.position and self.position + wanted <= start + len(data):
                offset = self.position - start
                buffer[:wanted] = data[offset : offset + wanted]
                self.position += wanted
                return wanted
        raise MissingRange(self.position, wanted)


async def fetch_wheel_metadata(
    dist: DistributionFilename, size: int, fetch: RangeFetcher
) -> bytes | None:
    """METADATA by ranges, or None when the upstream does not serve usable ranges (or the
    wheel would need more than MAX_FETCHED bytes of them)."""
    sparse = SparseFile(size)
    start = max(0, size - TAIL)
    tail = await fetch(start, size - 1)
    if tail is None or len(tail) != size - start:
        return None
    sparse.add(start, tail)
    fetched = len(tail)
    for _ in range(MAX_ROUNDS):
        try:
            return read_wheel_metadata(sparse, dist)  # type: ignore[arg-type]
        except MissingRange as missing:
            end = min(size, missing.start + max(missing.length, MIN_FETCH)) - 1
            fetched += end - missing.start + 1
            if fetched > MAX_FETCHED:
                return None
            data = await fetch(missing.start, end)
            if data is None or len(data) != end - missing.start + 1:
                return None
            sparse.add(missing.start, data)
    return None
