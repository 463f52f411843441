"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stilton.core.errors import StiltonError
from stilton.web.state import state_of


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def ready(request: Request) -> Response:
    """Ready when the database answers and the blob store is writable."""
    try:
        await run_in_threadpool(state_of(request).runtime.check_ready)
    except StiltonError as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": exc.message},
            503,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})
