"""Pages rendered with Jinja2 (autoescaping everything), and the headers every page carries: a
Content-Security-Policy that lets only Stilton's own assets run or load, no framing."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from stilton.web.ui.assets import Asset, asset_path
from stilton.web.ui.sessions import CSRF_COOKIE, PRINCIPAL_KEY

TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-cache",
    "Vary": "Accept, Cookie",
}
CSRF_STATE = "stilton.csrf"


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


class Pages:
    def __init__(self, assets: dict[str, Asset]) -> None:
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.environment.globals["asset"] = lambda name: asset_path(assets, name)
        self.environment.filters.update(size=human_size, when=when, iso=iso)

    def render(self, template: str, context: dict[str, Any]) -> str:
        return self.environment.get_template(template).render(context)


def csrf_nonce(request: Request) -> str:
    """The random value a form's CSRF token is tied to: the browser's, or a new one that the
    page's response sets."""
    nonce = request.cookies.get(CSRF_COOKIE) or request.scope.get(CSRF_STATE)
    if not nonce:
        nonce = request.scope[CSRF_STATE] = secrets.token_urlsafe(24)
    return str(nonce)


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    ui = request.app.state.ui  # a UiState (state.py imports this module)
    principal = request.scope.get(PRINCIPAL_KEY)
    base = {
        "viewer": principal if principal is not None and not principal.anonymous else None,
        "csrf": ui.sessions.csrf_token(csrf_nonce(request)),
        "default_index": ui.default_index,
        "path": request.url.path,
    }
    body = ui.pages.render(template, {**base, **context})
    response = HTMLResponse(body, status, headers=PAGE_HEADERS)
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_nonce(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response
