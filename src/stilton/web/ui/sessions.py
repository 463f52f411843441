"""Signing in from a browser: a session cookie signed (HMAC-SHA256) with a secret kept in the
database's ``meta`` table, so every worker and replica shares it; forms carry a CSRF token tied
to a random cookie. A session ends when it expires, when the user signs out, and when the
user's password changes (the cookie holds a fingerprint of the password hash).

``SessionPrincipal`` lets a signed-in browser read private pages and download their files: on
GET and HEAD only, and never for the admin API or a request that brings its own credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from stilton.core.permissions import Principal
from stilton.storage import users as user_store
from stilton.storage.catalog import get_meta, set_meta
from stilton.storage.changes import RESET, Change, ChangeFeed, ChangeScope
from stilton.storage.database import Database
from stilton.storage.users import UserRecord

SESSION_COOKIE = "stilton_session"
CSRF_COOKIE = "stilton_csrf"
SECRET_KEY = "ui-session-secret"  # noqa: S105 - the name of a meta row
SESSION_SECONDS = 12 * 3600
REMEMBER_SECONDS = 30.0  # a checked session is trusted this long without the database
PRINCIPAL_KEY = "stilton.principal"  # where web.auth.principal_of looks first


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cookie_value(headers: Sequence[tuple[bytes, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(name)
            if found:
                return found
    return None


class Sessions:
    def __init__(self, database: Database, feed: ChangeFeed) -> None:
        self._database = database
        self._secret: bytes | None = None
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, Principal]] = {}
        feed.subscribe(self._heard)

    def _heard(self, changes: Sequence[Change]) -> None:
        if any(c.scope is ChangeScope.AUTH or c == RESET for c in changes):
            self._checked.clear()

    def secret(self) -> bytes:
        """Made once per installation, on first use, and kept in ``meta``."""
        if self._secret is None:
            with self._lock:
                self._secret = self._load_secret()
        return self._secret

    def _load_secret(self) -> bytes:
        with self._database.connect() as connection:
            stored = get_meta(connection, SECRET_KEY)
        if stored is None:
            try:
                with self._database.begin() as connection:
                    if get_meta(connection, SECRET_KEY) is None:
                        set_meta(connection, SECRET_KEY, secrets.token_hex(32))
            except IntegrityError:
                pass  # another process made it first
            with self._database.connect() as connection:
                stored = get_meta(connection, SECRET_KEY)
        assert stored is not None
        return bytes.fromhex(stored)

    def _sign(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self.secret(), f"{purpose}:{data}".encode(), hashlib.sha256).digest())

    def _fingerprint(self, user: UserRecord) -> str:
        return self._sign("password", user.password_hash)[:22]

    def issue(self, user: UserRecord) -> str:
        payload = _b64(
            json.dumps(
                {"u": user.username, "t": int(time.time()), "p": self._fingerprint(user)}
            ).encode()
        )
        return f"{payload}.{self._sign('session', payload)}"

    def principal(self, cookie: str) -> Principal | None:
        """The user a session cookie names, if it is genuine, current and its user's password
        unchanged (checked with the database at most every REMEMBER_SECONDS)."""
        remembered = self._checked.get(cookie)
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign("session", payload)):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if time.time() - int(claims.get("t", 0)) > SESSION_SECONDS:
            return None
        with self._database.connect() as connection:
            user = user_store.find_user(connection, str(claims.get("u")))
        if user is None or not hmac.compare_digest(str(claims.get("p")), self._fingerprint(user)):
            return None
        found = Principal(username=user.username, groups=user.groups, is_admin=user.is_admin)
        if len(self._checked) > 10_000:
            self._checked.clear()
        self._checked[cookie] = (time.monotonic() + REMEMBER_SECONDS, found)
        return found

    def csrf_token(self, nonce: str) -> str:
        return self._sign("csrf", nonce)

    def csrf_valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))


class SessionPrincipal:
    """ASGI middleware: a GET or HEAD with a valid session cookie (and no credentials of its
    own) reads as the signed-in user."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    @property
    def state(self) -> object:
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            headers = scope["headers"]
            cookie = cookie_value(headers, SESSION_COOKIE)
            if cookie and not any(key == b"authorization" for key, _ in headers):
                principal = await run_in_threadpool(self.sessions.principal, cookie)
                if principal is not None:
                    scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)
