"""The one place where Stilton's error tree becomes HTTP statuses and bodies.

The message goes in the body, first, as plain text or (for clients that prefer it, like uv)
as PyPI's JSON error shape, always on one line. PyPI also puts it in the status line's reason
phrase; Stilton cannot: ASGI has no field for one and Granian writes hyper's canonical phrase
(``400 Bad Request``), so clients that print only the status line (twine without ``--verbose``,
pdm, hatch) cannot show the message (docs/architecture.md, "Error messages and clients").
"""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from stilton.core import errors
from stilton.web.ui.error_page import friendly_error

logger = logging.getLogger("stilton.web")
REALM = "Stilton"

STATUS: tuple[tuple[type[errors.StiltonError], int], ...] = (
    (errors.RequestTimeout, 408),
    (errors.InvalidInput, 400),
    (errors.AuthenticationRequired, 401),
    (errors.TooManyAttempts, 429),
    (errors.Unauthenticated, 403),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.NotAcceptable, 406),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.RangeNotSatisfiable, 416),
    (errors.InsufficientStorage, 507),
    (errors.StorageError, 503),
    (errors.UpstreamTimeout, 504),
    (errors.UpstreamUnavailable, 503),
    (errors.UpstreamError, 502),
)
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too Many Requests",
    404: "Not Found",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    416: "Range Not Satisfiable",
    502: "Bad Gateway",
    504: "Gateway Timeout",
    500: "Internal Server Error",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}


def status_of(error: errors.StiltonError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept.split(",")[0]


def one_line(message: str) -> str:
    """``message`` with every character that is not printable (line breaks, other control
    characters such as a terminal's escape, separators) shown as its escape sequence. Clients
    print the body to a terminal, and parts of a message come from the request."""
    if message.isprintable():
        return message
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in message
    )


def error_response(request: Request, status: int, message: str) -> Response:
    headers = {"Cache-Control": "no-store"}
    message = one_line(message)
    if _wants_json(request):
        body = {"message": message, "code": f"{status} {message}", "title": TITLES.get(status, "")}
        return Response(json.dumps(body), status, headers, media_type="application/json")
    return Response(message + "\n", status, headers, media_type="text/plain; charset=utf-8")


async def handle_stilton_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.StiltonError)
    status = status_of(exc)
    friendly = friendly_error(request, status, exc.message)  # a browser's 403 or 404
    if friendly is not None:
        return friendly
    response = error_response(request, status, exc.message)
    if isinstance(exc, errors.RangeNotSatisfiable):
        response.headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, errors.AuthenticationRequired):
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    if isinstance(exc, errors.TooManyAttempts | errors.UpstreamUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.RequestTimeout):
        response.headers["Connection"] = "close"  # the rest of the body is never read
    if isinstance(exc, errors.UpstreamUnavailable):
        # Its marking and its recovery are logged once each; not every request it refuses.
        logger.debug("%s %s: %s", request.method, request.url.path, exc.message)
    elif status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc.message)
    elif isinstance(exc, errors.IncompleteRequest):
        # Clients go away (an interrupted twine): worth a line, never a traceback.
        logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Routing's own errors (no route for the path, a method it does not take)."""
    assert isinstance(exc, HTTPException)
    message = "Nothing is served at this address." if exc.status_code == 404 else exc.detail
    friendly = friendly_error(request, exc.status_code, message)
    if friendly is not None:
        return friendly
    response = error_response(request, exc.status_code, message)
    response.headers.update(exc.headers or {})
    return response


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "Internal server error; the server log has the details.")
