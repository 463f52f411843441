"""``/-/metrics``: the metrics in Prometheus's text format, to whom ``metrics_access`` allows:
anyone (``public``), any valid credentials, administrators, or nobody (``off``)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from stilton.core.errors import AuthenticationRequired, NotFound, PermissionDenied
from stilton.web.auth import principal_of
from stilton.web.state import state_of


async def serve_metrics(request: Request) -> Response:
    """``/-/metrics`` in Prometheus's text format, to whom ``metrics_access`` allows."""
    state = state_of(request)
    await _check_access(request, state.runtime.settings.metrics_access)
    body = await run_in_threadpool(state.metrics.exposition, state.runtime)
    return Response(
        body, headers={"Cache-Control": "no-store", "Content-Type": CONTENT_TYPE_LATEST}
    )


async def _check_access(request: Request, access: str) -> None:
    if access == "public":
        return
    if access == "off":
        raise NotFound("Metrics are turned off on this server (metrics_access = 'off').")
    principal = await principal_of(request)
    if principal.anonymous:
        raise AuthenticationRequired(
            f"Metrics need credentials here (metrics_access = {access!r}): a username and"
            " password, or '__token__' and a token."
        )
    if access == "admin" and not principal.is_admin:
        raise PermissionDenied(
            f"{principal.label} may not read the metrics: metrics_access = 'admin' allows"
            " administrators only."
        )
