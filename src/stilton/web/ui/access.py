"""Who is looking at a page, what they may see, and the checks every form passes (a session,
a CSRF token tied to the browser, a same-origin request)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.core.errors import AuthenticationRequired, PermissionDenied, Unauthenticated
from stilton.core.index_config import IndexConfig
from stilton.core.permissions import ANONYMOUS_PRINCIPAL, Action, Principal, allowed
from stilton.storage.catalog import IndexRecord
from stilton.web.auth import principal_of
from stilton.web.ui.sessions import CSRF_COOKIE, PRINCIPAL_KEY, SESSION_COOKIE
from stilton.web.ui.state import ui_of

LOGIN_PATH = "/-/login"
MAX_FORM_FIELDS = 20


async def viewer(request: Request) -> Principal:
    """The signed-in user (a session, or Basic credentials); anonymous otherwise, also when
    credentials are wrong (a page then offers to sign in)."""
    found = request.scope.get(PRINCIPAL_KEY)
    if isinstance(found, Principal):
        return found
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = await run_in_threadpool(ui_of(request).sessions.principal, cookie)
        if principal is not None:
            request.scope[PRINCIPAL_KEY] = principal
            return principal
    try:
        return await principal_of(request)
    except Unauthenticated:
        return ANONYMOUS_PRINCIPAL


def may_read(principal: Principal, record: IndexRecord) -> bool:
    acl = IndexConfig.from_mapping(record.config).acl
    return allowed(principal, Action.READ, record.name, acl)


def is_admin(principal: Principal) -> bool:
    return principal.is_admin and (
        principal.scope is None or Action.ADMIN in principal.scope.actions
    )


def to_login(request: Request) -> Response:
    """Send a browser that must sign in to the sign-in page, and back afterwards."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(back)}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this server (never ``//host`` or a scheme) may follow a sign-in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc or "\\" in target else target


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") == own


async def checked_form(request: Request) -> FormData:
    """The form, once its CSRF token matches the browser's cookie and it came from this
    origin; PermissionDenied otherwise."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get("csrf")
    nonce = request.cookies.get(CSRF_COOKIE)
    sessions = ui_of(request).sessions
    if not _same_origin(request) or not sessions.csrf_valid(
        nonce, token if isinstance(token, str) else None
    ):
        raise PermissionDenied(
            "This form has expired or did not come from this site; reload the page and try again."
        )
    return form


async def signed_in(request: Request) -> Principal:
    """The user of the browser's session; AuthenticationRequired without one."""
    principal = await viewer(request)
    if principal.anonymous or principal.username is None or principal.token_id is not None:
        raise AuthenticationRequired("Sign in first.")
    return principal
