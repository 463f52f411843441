"""Signing in and out, and a user's own tokens: made (scoped to an index and an action, with
an expiry), listed and revoked through ``AuthService``, like ``stilton token``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from stilton.auth.credentials import Credentials
from stilton.core.errors import AuthenticationRequired, InvalidInput, NotFound, Unauthenticated
from stilton.core.permissions import Action, Principal
from stilton.storage import users as user_store
from stilton.storage.tokens import TokenRecord
from stilton.web.auth import checked_credentials, client_address
from stilton.web.state import state_of
from stilton.web.ui.access import checked_form, may_read, safe_next, signed_in, to_login
from stilton.web.ui.render import page
from stilton.web.ui.sessions import SESSION_COOKIE, SESSION_SECONDS
from stilton.web.ui.state import ui_of

EXPIRY_DAYS = (1, 7, 30, 90, 365)


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    description: str
    indexes: str
    actions: str
    expires_at: datetime | None
    last_used_at: datetime | None


async def login_form(request: Request) -> Response:
    return page(
        request,
        "login.html",
        next=safe_next(request.query_params.get("next")),
        username="",
        error=None,
    )


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _user(request: Request, principal: Principal) -> user_store.UserRecord:
    with state_of(request).runtime.database.connect() as connection:
        return user_store.get_user(connection, principal.username or "")


async def login(request: Request) -> Response:
    form = await checked_form(request)
    username, target = _field(form, "username", 128), safe_next(_field(form, "next", 2000))
    address = client_address(request)
    credentials = Credentials(username, _field(form, "password", 1024))
    try:
        if not username or credentials.is_token:
            raise Unauthenticated("Use your username and password.")  # tokens open no session
        # The same check as every request's credentials: counted by the brute-force guard
        # before anything is hashed, a few at a time (TooManyAttempts answers 429).
        principal = await checked_credentials(request, credentials)
        user = await run_in_threadpool(_user, request, principal)
    except (Unauthenticated, NotFound):
        return page(
            request,
            "login.html",
            400,
            next=target,
            username=username,
            error="Wrong username or password.",
        )
    await run_in_threadpool(
        state_of(request).runtime.auth.audit, f"user:{username}", "sign in", address=address
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, ui_of(request).sessions.issue(user), max_age=SESSION_SECONDS,
        httponly=True, samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _row(record: TokenRecord) -> TokenRow:
    scopes = record.scopes or {}
    indexes = scopes.get("indexes") or ([record.index] if record.index else ["every index"])
    projects = scopes.get("projects")
    actions = ", ".join(scopes.get("actions", ["read", "upload"]))
    return TokenRow(
        record.id,
        record.description + (f" (projects {', '.join(projects)})" if projects else ""),
        ", ".join(indexes),
        actions,
        record.expires_at,
        record.last_used_at,
    )


def _own_tokens(request: Request, username: str) -> list[TokenRow]:
    now = datetime.now(UTC)
    records = state_of(request).runtime.auth.list_tokens()
    return [
        _row(r)
        for r in records
        if r.username == username and not r.revoked and (r.expires_at is None or r.expires_at > now)
    ]


def _readable_indexes(request: Request, principal: Principal) -> list[str]:
    records = state_of(request).runtime.list_indexes()
    return [r.name for r in records if may_read(principal, r)]


async def _tokens_page(
    request: Request, principal: Principal, status: int = 200, **extra: Any
) -> Response:
    assert principal.username is not None
    tokens = await run_in_threadpool(_own_tokens, request, principal.username)
    indexes = await run_in_threadpool(_readable_indexes, request, principal)
    context: dict[str, Any] = {"created": None, "error": None, **extra}
    response = page(request, "tokens.html", status, tokens=tokens, indexes=indexes, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


async def tokens(request: Request) -> Response:
    try:
        principal = await signed_in(request)
    except AuthenticationRequired:
        return to_login(request)
    return await _tokens_page(request, principal)


@dataclass(frozen=True, slots=True)
class NewToken:
    id: int
    token: str


def _make_token(request: Request, principal: Principal, form: Any) -> NewToken:
    index, action = _field(form, "index", 64), _field(form, "action", 16)
    if index not in _readable_indexes(request, principal) or action not in ("read", "upload"):
        raise InvalidInput("Choose an index you may read, and read or upload.")
    days = int(_field(form, "expires", 4) or 30)
    if days not in EXPIRY_DAYS:
        raise InvalidInput("Choose one of the expiry periods offered.")
    project = _field(form, "project")
    token_id, token = state_of(request).runtime.auth.create_token(
        None, _field(form, "description"), user=principal.username, indexes=[index],
        actions=[Action(action)], projects=[project] if project else None,
        expires_at=datetime.now(UTC) + timedelta(days=days), actor=principal.label,
        address=client_address(request),
    )  # fmt: skip
    return NewToken(token_id, token)


async def create_token(request: Request) -> Response:
    form = await checked_form(request)
    principal = await signed_in(request)
    try:
        created = await run_in_threadpool(_make_token, request, principal, form)
    except (InvalidInput, ValueError) as exc:
        message = (
            exc.message
            if isinstance(exc, InvalidInput)
            else "Choose one of the expiry periods offered."
        )
        return await _tokens_page(request, principal, 400, error=message)
    return await _tokens_page(request, principal, 201, created=created)


def _revoke(request: Request, principal: Principal, token_id: int) -> None:
    runtime = state_of(request).runtime
    mine = [
        r
        for r in runtime.auth.list_tokens()
        if r.id == token_id and r.username == principal.username
    ]
    if not mine:
        raise NotFound(f"You have no token {token_id}.")
    runtime.auth.revoke_token(token_id, actor=principal.label, address=client_address(request))


async def revoke_token(request: Request) -> Response:
    await checked_form(request)
    principal = await signed_in(request)
    raw = request.path_params["token_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("No such token.")
    await run_in_threadpool(_revoke, request, principal, int(raw))
    return RedirectResponse("/-/tokens", status_code=303)
