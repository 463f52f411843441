"""The page a browser gets for a 404 or 403 (tools keep the plain-text or JSON error)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from stilton.web.ui.negotiate import wants_page
from stilton.web.ui.render import page

TITLES = {403: "Not allowed", 404: "Not found"}


def friendly_error(request: Request, status: int, message: str) -> Response | None:
    """A page for a browser asking an app that has the web interface; None otherwise."""
    if status not in TITLES or not wants_page(request.headers.get("accept")):
        return None
    if getattr(request.app.state, "ui", None) is None:
        return None
    return page(request, "error.html", status, title=TITLES[status], message=message)
