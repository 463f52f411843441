"""Static assets (stylesheet, script, icon), read once and served from memory under a URL that
names their content's digest, so browsers keep them for a year; ``/favicon.ico`` and
``/robots.txt`` answer too."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from stilton.core.errors import NotFound

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
ROBOTS = (
    "# Package pages are for people; the APIs, files and search are for tools.\n"
    "User-agent: *\n"
    "Disallow: /simple/\n"
    "Disallow: /*/simple/\n"
    "Disallow: /*/+simple/\n"
    "Disallow: /*/files/\n"
    "Disallow: /*/pypi/\n"
    "Disallow: /pypi/\n"
    "Disallow: /api/\n"
    "Disallow: /search\n"
    "Disallow: /-/\n"
)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str  # the first characters of the body's sha256

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def load_assets() -> dict[str, Asset]:
    assets = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in MEDIA_TYPES:
            body = path.read_bytes()
            version = hashlib.sha256(body).hexdigest()[:12]
            assets[path.name] = Asset(body, MEDIA_TYPES[path.suffix], version)
    return assets


def asset_path(assets: dict[str, Asset], name: str) -> str:
    return f"/static/{assets[name].version}/{name}"


def _send(request: Request, asset: Asset) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, 200, headers, media_type=asset.media_type)


def _assets(request: Request) -> dict[str, Asset]:
    assets: dict[str, Asset] = request.app.state.ui.assets
    return assets


async def static_file(request: Request) -> Response:
    asset = _assets(request).get(request.path_params["name"])
    if asset is None or asset.version != request.path_params["version"]:
        raise NotFound("No such file.")
    return _send(request, asset)


async def favicon(request: Request) -> Response:
    return _send(request, _assets(request)["favicon.ico"])


async def robots(request: Request) -> Response:
    return PlainTextResponse(ROBOTS, headers={"Cache-Control": "public, max-age=86400"})
