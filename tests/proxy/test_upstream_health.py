"""An upstream's health as one process judges it: failures in a row at the upstream's own origin
mark it unhealthy, then nothing is sent to it but background retries (every other request is
refused at once, saying when the next retry is), the retry interval doubles while retries fail,
and any answer below 500 heals it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from stilton.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from stilton.core.telemetry import NO_TELEMETRY
from stilton.core.upstream import HostRefused
from stilton.indexes.upstream_health import HealthBook, UpstreamHealth
from stilton.storage.upstream_health import LEFT_BEHIND, HealthReport

UPSTREAM = "https://upstream.example/simple/"
PAGE = "https://upstream.example/simple/alpha/"
FILE_HOST = "https://files.example/packages/alpha-1.0.tar.gz"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorded() -> list[HealthReport]:
    return []


@pytest.fixture
def book(clock: Clock, recorded: list[HealthReport]) -> HealthBook:
    return HealthBook(
        NO_TELEMETRY, 3, 10.0, lambda _id, report: recorded.append(report), clock=clock
    )


def marked(book: HealthBook) -> UpstreamHealth:
    health = book.of(1, "up", UPSTREAM)
    for _ in range(3):
        health.failed(PAGE, UpstreamTimeout("no answer"))
    assert not health.healthy
    return health


def answering(health: UpstreamHealth) -> Callable[[], Awaitable[None]]:
    async def retry() -> None:
        health.answered(UPSTREAM, 200)

    return retry


async def still_down() -> None:
    raise UpstreamError("still down")


def test_three_failures_in_a_row_mark_it_and_refuse_at_once(
    book: HealthBook, recorded: list[HealthReport]
) -> None:
    health = book.of(1, "up", UPSTREAM)
    health.failed(PAGE, UpstreamTimeout("no answer"))
    health.answered(PAGE, 503)
    assert health.report().healthy
    health.failed(PAGE, UpstreamError("connection refused"))

    assert not health.report().healthy
    with pytest.raises(UpstreamUnavailable) as refused:
        health.admit(PAGE)
    message = str(refused.value)
    assert message.startswith("Upstream marked unhealthy: proxy index 'up'")
    assert UPSTREAM in message and "connection refused" in message
    assert "retried in the background at 2026-01-01T12:00:10+00:00 (in 10 s)" in message
    assert refused.value.retry_after == 10
    assert [r.healthy for r in recorded] == [False]
    assert recorded[0].failures == 3
    assert recorded[0].retry_at == START + timedelta(seconds=10)


def test_a_success_in_between_starts_the_count_again(book: HealthBook) -> None:
    health = book.of(1, "up", UPSTREAM)
    for _ in range(2):
        health.failed(PAGE, UpstreamTimeout("no answer"))
    health.answered(PAGE, 304)
    for _ in range(2):
        health.failed(PAGE, UpstreamTimeout("no answer"))

    assert health.healthy


def test_answers_below_500_are_health_even_refusals(book: HealthBook) -> None:
    health = book.of(1, "up", UPSTREAM)
    for status in (404, 401, 429, 404, 403):
        health.answered(PAGE, status)
    assert health.healthy


def test_other_hosts_and_refused_hosts_say_nothing_of_the_upstream(book: HealthBook) -> None:
    health = book.of(1, "up", UPSTREAM)
    for _ in range(5):
        health.failed(FILE_HOST, UpstreamTimeout("slow file host"))
        health.failed(PAGE, HostRefused("upstream.example", url=PAGE))
        health.answered(FILE_HOST, 502)

    assert health.healthy
    marked(book)
    health.admit(FILE_HOST)  # a file host is still asked while the upstream is unhealthy


def test_a_retry_that_gets_an_answer_heals_it(
    book: HealthBook, recorded: list[HealthReport]
) -> None:
    health = marked(book)
    asyncio.run(health.retry_now(answering(health)))

    assert health.healthy
    health.admit(PAGE)
    assert [r.healthy for r in recorded] == [False, True]
    assert recorded[-1].retry_at is None


def test_the_retry_interval_doubles_while_retries_fail(book: HealthBook, clock: Clock) -> None:
    health = marked(book)

    async def timing_out() -> None:
        health.failed(PAGE, UpstreamTimeout("still no answer"))
        raise UpstreamTimeout("still no answer")

    for expected in (20, 40, 80, 160, 320, 320):
        clock.advance(1000)
        asyncio.run(health.retry_now(timing_out))
        assert health.retry_at == clock.now + timedelta(seconds=expected)
        assert not health.healthy


def test_failures_of_requests_sent_before_it_was_marked_do_not_push_the_retry(
    book: HealthBook,
) -> None:
    health = marked(book)
    due = health.retry_at
    for _ in range(10):  # concurrent requests that were on their way
        health.failed(PAGE, UpstreamTimeout("no answer"))
    assert health.retry_at == due
    assert health.failures == 13


def test_a_failed_retry_says_so_without_healing(book: HealthBook) -> None:
    health = marked(book)
    asyncio.run(health.retry_now(still_down))
    assert not health.healthy
    with pytest.raises(UpstreamUnavailable):
        health.admit(PAGE)


def test_proxies_of_one_index_share_it_and_a_new_upstream_starts_healthy(
    book: HealthBook,
) -> None:
    first = marked(book)

    assert book.of(1, "up", UPSTREAM) is first
    assert book.of(1, "up", "https://mirror.example/simple/").healthy


def test_a_report_left_by_a_process_that_is_gone_is_not_current() -> None:
    report = HealthReport(False, 3, START, "no answer", START + timedelta(seconds=10))
    assert report.current(START + timedelta(seconds=10) + LEFT_BEHIND / 2)
    assert not report.current(START + timedelta(seconds=11) + LEFT_BEHIND)
    assert HealthReport.from_json(report.to_json()) == report
    with pytest.raises(ValueError, match="not an upstream health report"):
        HealthReport.from_json('{"healthy": true}')
