"""Liveness and readiness probes. Readiness is about this server's own database and blobs; the
health of proxies' upstreams is reported beside it, never a reason to answer 503."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stilton.storage import upstream_health
from stilton.web.state import state_of

NO_STORE = {"Cache-Control": "no-store"}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def ready(request: Request) -> Response:
    """Ready when the database answers and the blob store is writable; a 503 otherwise,
    naming what failed (``failed``) and why (``reason``), for load balancers and operators."""
    failures = await run_in_threadpool(state_of(request).runtime.check_ready)
    if failures:
        body = {
            "status": "unavailable",
            "failed": sorted(failures),
            "reason": " ".join(failures[part] for part in sorted(failures)),
        }
        return JSONResponse(body, 503, headers=NO_STORE)
    reports = await run_in_threadpool(state_of(request).runtime.upstream_reports)
    upstreams = {name: upstream_health.shown(report) for name, report in reports.items()}
    return JSONResponse({"status": "ready", "upstreams": upstreams}, headers=NO_STORE)
