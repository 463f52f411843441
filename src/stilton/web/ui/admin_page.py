"""The operators' page: what each proxy keeps, the latest uploads, the audit log, and (on
request, since it asks the upstreams) the collision audit of every group."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from stilton.core.errors import PermissionDenied
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.indexes.audit import Collision, find_collisions
from stilton.runtime import Runtime
from stilton.storage import upstream_cache
from stilton.storage.activity import Upload, recent_uploads
from stilton.web.state import state_of
from stilton.web.ui.access import is_admin, to_login, viewer
from stilton.web.ui.describe import upstream_url
from stilton.web.ui.render import page

AUDIT_ENTRIES = 100


@dataclass(frozen=True, slots=True)
class CacheRow:
    name: str
    upstream: str
    files: int
    size: int
    cap: int | None
    pages: int


def _caches(runtime: Runtime) -> list[CacheRow]:
    rows = []
    for record in runtime.list_indexes():
        upstream = IndexConfig.from_mapping(record.config).upstream
        if record.kind is not IndexKind.PROXY or upstream is None:
            continue
        with runtime.database.connect() as connection:
            count, size = upstream_cache.cache_stats(connection, record)
            pages = len(upstream_cache.list_pages(connection, record))
        rows.append(
            CacheRow(
                record.name, upstream_url(upstream), count, size, upstream.cache_max_bytes, pages
            )
        )
    return rows


def _uploads(runtime: Runtime) -> list[Upload]:
    with runtime.database.connect() as connection:
        return recent_uploads(connection)


async def _collisions(runtime: Runtime) -> list[Collision]:
    found: list[Collision] = []
    records = await run_in_threadpool(runtime.list_indexes)
    for record in records:
        if record.kind is IndexKind.GROUP:
            group = await run_in_threadpool(runtime.group, record.name)
            try:
                found += await find_collisions(group)
            finally:
                await group.aclose()
    return found


async def admin(request: Request) -> Response:
    principal = await viewer(request)
    if principal.anonymous:
        return to_login(request)
    if not is_admin(principal):
        raise PermissionDenied(f"{principal.label} is not an administrator.")
    runtime = state_of(request).runtime
    collisions = await _collisions(runtime) if request.query_params.get("collisions") else None
    return page(
        request,
        "admin.html",
        caches=await run_in_threadpool(_caches, runtime),
        uploads=await run_in_threadpool(_uploads, runtime),
        audit=await run_in_threadpool(runtime.auth.audit_log, AUDIT_ENTRIES),
        collisions=collisions,
    )
