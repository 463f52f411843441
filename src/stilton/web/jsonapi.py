"""The Warehouse JSON API: ``/<index>/pypi/<project>/json`` and ``…/<version>/json``."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from stilton.core.errors import NotFound
from stilton.core.names import is_valid_project_name, normalize_project_name
from stilton.core.permissions import Action
from stilton.web.auth import authorize, authorize_sources, project_sources
from stilton.web.simple import SERIAL_HEADER
from stilton.web.state import index_of

JSON_API_MAX_AGE = 60  # seconds; PyPI uses 900, a private index wants uploads seen sooner
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Expose-Headers": SERIAL_HEADER,
    "Access-Control-Max-Age": "86400",
}


async def project_json(request: Request) -> Response:
    try:
        return await _project_json(request)
    except NotFound:
        # PyPI's JSON API answers 404 as JSON, with CORS headers.
        return JSONResponse({"message": "Not Found"}, 404, headers=CORS)


async def _project_json(request: Request) -> Response:
    raw_name = request.path_params["project"]
    version = request.path_params.get("version")
    if not is_valid_project_name(raw_name):
        raise NotFound("Not Found")
    name = normalize_project_name(raw_name)
    if name != raw_name:
        path = request.url.path
        start = path.index(f"/{raw_name}/") + 1
        return RedirectResponse(path[:start] + name + path[start + len(raw_name) :], 301)
    index = await index_of(request)
    await authorize(request, index, Action.READ)
    await authorize_sources(request, index, name, await project_sources(request, index, name))
    base_url = str(request.base_url).rstrip("/")
    body = await index.project_json(name, version, base_url)
    headers = {
        SERIAL_HEADER: str(json.loads(body).get("last_serial") or 0),
        "Cache-Control": f"max-age={JSON_API_MAX_AGE}, public",
        **CORS,
    }
    return Response(body, 200, headers, media_type="application/json")
