"""The health of proxies' upstreams (as Nexus's "auto-block"): an upstream whose own origin
fails ``unhealthy_after`` times in a row (no connection, a timeout, a 5xx) is marked unhealthy.
Then a proxy sends it nothing: kept pages are served stale at once and anything else is a 503
at once, while a background retry asks the upstream now and then (after the retry interval,
doubling after each failed retry); its answer marks the upstream healthy again.

The health is per process, shared by the index objects a process builds for a proxy (a group
holds its own): each server worker learns it from its own requests, which takes a few failed
requests and no coordination. Each judgement is also written to the database
(``storage.upstream_health``) for ``stilton index list`` and ``/-/ready``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from stilton.core.errors import UpstreamError, UpstreamUnavailable
from stilton.core.telemetry import Telemetry, failure_kind
from stilton.core.upstream import Origin, origin_of, redact_url
from stilton.storage.upstream_health import HealthReport

logger = logging.getLogger("stilton.proxy")

HEALTH_FAILURES = ("timeout", "connection")  # failure kinds that say the upstream is unwell
MAX_RETRY_FACTOR = 32  # the retry interval doubles after each failed retry, up to this factor
# Set while a background retry runs: its requests are the only ones an unhealthy upstream gets.
RETRYING: ContextVar[bool] = ContextVar("stilton_upstream_retrying", default=False)

Retry = Callable[[], Awaitable[object]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UpstreamHealth:
    """One proxy's upstream as this process sees it; also the ``UpstreamWatch`` of every client
    of it, counting each request for the metrics."""

    def __init__(self, index_id: int, index: str, url: str, book: HealthBook) -> None:
        self.index_id = index_id
        self.index = index
        self.url = url
        self.origin: Origin | None = origin_of(url)
        self.book = book
        self.healthy = True
        self.failures = 0  # in a row
        self.since = book.clock()
        self.last_error: str | None = None
        self.interval = book.retry_interval  # seconds
        self.retry_at: datetime | None = None  # the next background retry, while unhealthy
        self._retries: list[Retry] = []  # of the index objects alive, the newest last
        self._timer: asyncio.Task[None] | None = None
        book.telemetry.upstream_health(index, True)

    # -- UpstreamWatch ---------------------------------------------------------------------------

    def admit(self, url: str) -> None:
        if self._own(url):
            self.check()

    def answered(self, url: str, status: int) -> None:
        self.book.telemetry.upstream_answered(self.index, status)
        if not self._own(url):
            return
        if status >= 500:
            self._failed(f"the upstream answered {status} for {redact_url(url)}")
        else:
            self._succeeded()

    def failed(self, url: str, error: UpstreamError) -> None:
        kind = failure_kind(error)
        self.book.telemetry.upstream_failed(self.index, kind)
        if kind in HEALTH_FAILURES and self._own(url):
            self._failed(error.message)

    def received(self, size: int) -> None:
        self.book.telemetry.upstream_received(self.index, size)

    # -- what index objects use ------------------------------------------------------------------

    def check(self) -> None:
        """Raise UpstreamUnavailable while the upstream is marked unhealthy (except in a
        retry): asked before waiting for anything on the upstream's behalf."""
        if self.healthy or RETRYING.get():
            return
        self.book.telemetry.upstream_failed(self.index, "unavailable")
        self._keep_retrying()
        raise self.unavailable()

    def attach(self, retry: Retry) -> None:
        """``retry`` asks the upstream something cheap (an index object's, while it lives)."""
        self._retries.append(retry)

    def detach(self, retry: Retry) -> None:
        if retry in self._retries:
            self._retries.remove(retry)

    def unavailable(self) -> UpstreamUnavailable:
        now = self.book.clock()
        return UpstreamUnavailable(
            self.index, redact_url(self.url), self.failures, self.since, self.last_error,
            self.retry_at or now, now,
        )  # fmt: skip

    def report(self) -> HealthReport:
        return HealthReport(self.healthy, self.failures, self.since, self.last_error, self.retry_at)

    # -- the state -------------------------------------------------------------------------------

    def _own(self, url: str) -> bool:
        """Only the upstream's own origin is judged (not the file hosts it links to)."""
        return self.origin is not None and origin_of(url) == self.origin

    def _failed(self, reason: str) -> None:
        self.failures += 1
        self.last_error = reason
        now = self.book.clock()
        if self.healthy:
            if self.failures < self.book.unhealthy_after:
                return
            self.healthy, self.since, self.interval = False, now, self.book.retry_interval
            self.retry_at = now + timedelta(seconds=self.interval)
            logger.warning("%s: upstream marked unhealthy (%s)", self.index, reason)
            self.book.changed(self)
            self._keep_retrying()
        elif RETRYING.get():  # a failed retry: the next one waits longer
            ceiling = self.book.retry_interval * MAX_RETRY_FACTOR
            self.interval = min(self.interval * 2, ceiling)
            self.retry_at = now + timedelta(seconds=self.interval)
            self.book.changed(self)  # written again: a process still holds it so
        # Any other failure while unhealthy is of a request sent before it was marked.

    def _succeeded(self) -> None:
        self.failures = 0
        if not self.healthy:
            self.healthy, self.since, self.retry_at = True, self.book.clock(), None
            self.interval = self.book.retry_interval
            logger.warning("%s: the upstream answers again; marked healthy", self.index)
            self.book.changed(self)

    def _keep_retrying(self) -> None:
        """A background task retries the upstream while it is unhealthy, so it is seen to
        recover without any request waiting for it."""
        if self._timer is not None and not self._timer.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a server: a command's requests are refused until it ends
        self._timer = loop.create_task(self._retry_later())

    def stop_retrying(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _retry_later(self) -> None:
        while not self.healthy and self.retry_at is not None:
            wait = (self.retry_at - self.book.clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not self._retries:
                return  # no index object left to ask with; a refused request starts again
            # The next retry's time, should this one end without an answer (a failed one
            # pushes it further).
            self.retry_at = self.book.clock() + timedelta(seconds=self.interval)
            await self.retry_now(self._retries[-1])

    async def retry_now(self, retry: Retry) -> None:
        """One retry: its requests go to the upstream, and the upstream's answer (heard as the
        client's watch) judges it."""
        token = RETRYING.set(True)
        try:
            await retry()
        except UpstreamError as exc:
            logger.info("%s: retrying the upstream failed: %s", self.index, exc)
        except Exception:
            # Not the upstream's doing (an index object closed meanwhile): the next retry asks
            # with another one.
            logger.exception("%s: could not retry the upstream", self.index)
        finally:
            RETRYING.reset(token)


class HealthBook:
    """Every proxy's ``UpstreamHealth`` in this process, by index and upstream URL (so an index
    given another upstream starts healthy)."""

    def __init__(
        self,
        telemetry: Telemetry,
        unhealthy_after: int,
        retry_interval: float,
        record: Callable[[int, HealthReport], None] = lambda _id, _report: None,
        clock: Clock = _utc_now,
    ) -> None:
        self.telemetry = telemetry
        self.unhealthy_after = unhealthy_after
        self.retry_interval = retry_interval  # seconds
        self.record = record  # writes a judgement where every process's are read
        self.clock = clock
        self._health: dict[tuple[int, str], UpstreamHealth] = {}
        self._recording: set[asyncio.Task[None]] = set()
        self._writing = threading.Lock()

    def of(self, index_id: int, index: str, url: str) -> UpstreamHealth:
        key = (index_id, url)
        health = self._health.get(key)
        if health is None:
            health = self._health[key] = UpstreamHealth(index_id, index, url, self)
        return health

    def changed(self, health: UpstreamHealth) -> None:
        self.telemetry.upstream_health(health.index, health.healthy)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(health)
            return
        task = loop.create_task(asyncio.to_thread(self._write, health))
        self._recording.add(task)
        task.add_done_callback(self._recorded)

    def _write(self, health: UpstreamHealth) -> None:
        """The state as it is when written, one write at a time: writes that overtake one
        another still leave the latest state."""
        with self._writing:
            self.record(health.index_id, health.report())

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("could not record an upstream's health: %s", task.exception())

    async def aclose(self) -> None:
        """Stop retrying and finish writing reports (on shutdown)."""
        for health in self._health.values():
            health.stop_retrying()
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)
