"""Single-flight downloads: one upstream transfer per file, however many clients ask at once,
each client streamed the bytes as they arrive.

The last bytes of a transfer are held back until the whole file has been verified against the
upstream's digest, so a client never receives a complete file that failed verification.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from stilton.core.errors import StiltonError, UpstreamError
from stilton.core.upstream import redact_url
from stilton.indexes.base import StoredBlob
from stilton.indexes.spool import Spooler
from stilton.upstream.client import UpstreamClient

CHUNK = 256 * 1024
HOLD_BACK = 64 * 1024  # bytes kept from clients until the file is verified
FINISHED_GRACE = 30.0  # seconds a finished transfer can still be joined

# Finishes the spool file (fsync), verifies it and keeps it; raises if it does not verify.
Finisher = Callable[[Spooler], Awaitable[StoredBlob]]


class Transfer:
    """A file arriving from upstream into a spool file, readable by many while it grows."""

    def __init__(self, filename: str, size: int | None, spooler: Spooler) -> None:
        self.filename = filename
        self.size = size
        self._spooler = spooler
        # One read descriptor for all readers (pread keeps their offsets apart); it stays valid
        # when the finished spool file is moved into the blob store.
        fd = os.open(spooler.path, os.O_RDONLY)
        self._fd = fd
        weakref.finalize(self, os.close, fd)
        self._written = 0
        self._stored: StoredBlob | None = None
        self._error: StiltonError | None = None
        self._event = asyncio.Event()

    @property
    def failed(self) -> bool:
        return self._error is not None

    @property
    def kept(self) -> StoredBlob | None:
        """The stored file, once the transfer finished and verified."""
        return self._stored

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def wrote(self, count: int) -> None:
        self._written += count
        self._notify()

    def succeed(self, stored: StoredBlob) -> None:
        self._stored = stored
        self._notify()

    def fail(self, error: StiltonError) -> None:
        self._error = error
        self._notify()

    async def settled(self, enough: int) -> StoredBlob | None:
        """Wait until ``enough`` bytes have arrived (None: stream it) or the whole file was
        kept (the stored file); raises if the transfer fails first."""
        while True:
            event = self._event
            if self._error is not None:
                raise self._error
            if self._stored is not None:
                return self._stored
            if self._written >= enough:
                return None
            await event.wait()

    async def stored(self) -> StoredBlob:
        while True:
            event = self._event
            if self._error is not None:
                raise self._error
            if self._stored is not None:
                return self._stored
            await event.wait()

    async def chunks(self) -> AsyncIterator[bytes]:
        offset = 0
        while True:
            event = self._event
            verified = self._stored is not None
            limit = self._written if verified else max(0, self._written - HOLD_BACK)
            if offset < limit:
                data = os.pread(self._fd, min(CHUNK, limit - offset), offset)
                if not data:
                    raise UpstreamError(f"The cached copy of {self.filename!r} ended early.")
                offset += len(data)
                yield data
                continue
            if self._error is not None:
                raise self._error
            if verified:
                return
            await event.wait()


class Transfers:
    """The transfers in flight, by key; a new request for a key joins the running one."""

    def __init__(self) -> None:
        self._running: dict[Any, Transfer] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def find(self, key: Any) -> Transfer | None:
        return self._running.get(key)

    def start(
        self,
        key: Any,
        client: UpstreamClient,
        url: str,
        spooler: Spooler,
        size: int | None,
        finish: Finisher,
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> Transfer:
        """Start downloading ``url`` (or join the transfer already running for ``key``);
        ``release`` is awaited once the transfer has ended, however it ended."""
        existing = self._running.get(key)
        if existing is not None:
            spooler.abort()
            return existing
        transfer = Transfer(spooler.filename, size, spooler)
        self._running[key] = transfer
        task = asyncio.get_running_loop().create_task(
            self._run(key, transfer, client, url, spooler, finish, release)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return transfer

    async def _run(
        self,
        key: Any,
        transfer: Transfer,
        client: UpstreamClient,
        url: str,
        spooler: Spooler,
        finish: Finisher,
        release: Callable[[], Awaitable[None]] | None,
    ) -> None:
        try:
            async with client.stream(url) as response:
                assert response is not None
                async for chunk in client.chunks(response, url):
                    spooler.write(chunk)
                    transfer.wrote(len(chunk))
            if transfer.size is not None and spooler.size != transfer.size:
                raise UpstreamError(
                    f"The upstream sent {spooler.size} bytes of {transfer.filename!r}"
                    f" ({redact_url(url)}); its page announced {transfer.size}."
                )
            transfer.succeed(await finish(spooler))
        except StiltonError as exc:
            spooler.abort()
            transfer.fail(exc)
        except Exception as exc:  # an unexpected failure still ends every waiting client
            spooler.abort()
            transfer.fail(UpstreamError(f"Downloading {transfer.filename!r} failed: {exc!r}"))
            raise
        finally:
            # A kept file's transfer stays joinable for a while, so a request that missed the
            # cache just before the file was kept does not start a second download; a failed
            # one is forgotten at once, so the next request tries again.
            if transfer.failed:
                self.forget(key, transfer)
            else:
                asyncio.get_running_loop().call_later(FINISHED_GRACE, self.forget, key, transfer)
            if release is not None:
                await release()

    def forget(self, key: Any, transfer: Transfer) -> None:
        if self._running.get(key) is transfer:
            del self._running[key]
