"""What the layers below the web app report as they work, for metrics and for the health of
upstreams: interfaces only. The web app counts with Prometheus (``web/metrics.py``); a CLI
command counts nothing (``NO_TELEMETRY``, ``UNWATCHED``)."""

from __future__ import annotations

from typing import Protocol

from stilton.core.errors import UpstreamError, UpstreamTimeout
from stilton.core.upstream import HostRefused, PageTooLarge


class Telemetry(Protocol):
    """Counts kept per process (and added up over a server's workers)."""

    def upstream_answered(self, index: str, status: int) -> None:
        """An upstream answered a request of ``index`` with ``status``."""

    def upstream_failed(self, index: str, kind: str) -> None:
        """A request of ``index`` to its upstream failed: ``timeout``, ``connection``,
        ``refused`` (a host the proxy may not reach), ``too_large`` or ``unavailable`` (not
        sent: the upstream is marked unhealthy)."""

    def upstream_received(self, index: str, size: int) -> None:
        """Bytes of an upstream's answers arrived."""

    def joined(self, what: str) -> None:
        """A caller joined work already running for the same key (single flight)."""

    def upstream_health(self, index: str, healthy: bool) -> None:
        """An upstream was marked unhealthy, or recovered."""


class NoTelemetry:
    def upstream_answered(self, index: str, status: int) -> None:
        pass

    def upstream_failed(self, index: str, kind: str) -> None:
        pass

    def upstream_received(self, index: str, size: int) -> None:
        pass

    def joined(self, what: str) -> None:
        pass

    def upstream_health(self, index: str, healthy: bool) -> None:
        pass


NO_TELEMETRY = NoTelemetry()


class UpstreamWatch(Protocol):
    """What sees every request of an upstream client: it may refuse one before it is sent
    (an upstream marked unhealthy is not waited for), and hears how each one went."""

    def admit(self, url: str) -> None:
        """Raise UpstreamError to refuse sending a request to ``url`` now."""

    def answered(self, url: str, status: int) -> None: ...

    def failed(self, url: str, error: UpstreamError) -> None: ...

    def received(self, size: int) -> None: ...


class Unwatched:
    def admit(self, url: str) -> None:
        pass

    def answered(self, url: str, status: int) -> None:
        pass

    def failed(self, url: str, error: UpstreamError) -> None:
        pass

    def received(self, size: int) -> None:
        pass


UNWATCHED = Unwatched()


def failure_kind(error: UpstreamError) -> str:
    """How a request to an upstream failed, as a metric's label."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, HostRefused):
        return "refused"
    if isinstance(error, PageTooLarge):
        return "too_large"
    return "connection"
