"""The request log: one line per request (the fast path's answers included) on the logger
``stilton.access``: client address (after trusted-proxy handling), who asked (a user or a
token's id, never a secret), method, path, status, bytes sent and duration.

The middleware sits outside the fast path and inside ``ForwardedHeaders``. It watches the
response go by without copying it; whoever learns the principal notes it (``note_principal``)
on the request's entry, which survives the scope copies some layers make.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stilton.core.permissions import Principal
from stilton.web.log_format import ACCESS_LOGGER

ENTRY_KEY = "stilton.request"  # scope key of the request's RequestEntry
PRINCIPAL_KEY = "stilton.principal"  # where web.auth and web.ui.sessions keep the principal
# client, who, "method path", status, bytes, milliseconds (see log_format.ACCESS_FIELDS)
LINE = '%s %s "%s %s" %s %s %.1fms'

# method, path, status, seconds: what the metrics count of every request
Observer = Callable[[str, str, int, float], None]


STARTED = time.time()
_process = [os.getpid()]  # asked once (a system call), and again in a forked child
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))


class AccessRecord(logging.LogRecord):
    """A request log line's record, made for a fraction of LogRecord's own cost (which looks
    up the caller's file, module, thread and process for every record): an access record is
    always made here, so those are known. ``relativeCreated`` counts from this module's import.
    """

    def __init__(self, args: tuple[object, ...]) -> None:
        now = time.time()
        self.name = ACCESS_LOGGER
        self.msg = LINE
        self.args = args
        self.levelname = "INFO"
        self.levelno = logging.INFO
        self.pathname, self.filename, self.module = __file__, "request_log.py", "request_log"
        self.lineno, self.funcName = 0, "RequestLog"
        self.exc_info, self.exc_text, self.stack_info = None, None, None
        self.created = now
        self.msecs = int((now - int(now)) * 1000) + 0.0
        self.relativeCreated = (now - STARTED) * 1000
        self.thread = threading.get_ident()
        self.threadName = threading.current_thread().name
        self.process, self.processName, self.taskName = _process[0], None, None


class RequestEntry:
    """What the log line says of a request, filled in as it is answered."""

    __slots__ = ("headers", "sent", "status", "user")

    def __init__(self) -> None:
        self.status = 0  # 0: no response was started (the client went away first)
        self.sent = 0
        self.user: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []


def principal_label(principal: Principal) -> str:
    """Who asked, in one word: a user's name or a token's id (and owner), never a secret."""
    if principal.token_id is not None:
        owner = f"({principal.username})" if principal.username else ""
        return f"token:{principal.token_id}{owner}"
    return f"user:{principal.username}" if principal.username else "-"


def note_principal(scope: Scope, principal: Principal) -> None:
    entry = scope.get(ENTRY_KEY)
    if isinstance(entry, RequestEntry):
        entry.user = principal_label(principal)


def _path(scope: Scope) -> str:
    """The path as sent (still percent-encoded), so no decoded newline or quote can forge a
    line; the query string is left out."""
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).partition(b"?")[0].decode("latin-1")
    return quote(scope.get("path", ""), safe="/:@!$&'()*+,;=-._~")


def _who(scope: Scope, entry: RequestEntry) -> str:
    if entry.user is not None:
        return entry.user
    principal = scope.get(PRINCIPAL_KEY)  # a signed-in browser on a public page
    return principal_label(principal) if isinstance(principal, Principal) else "-"


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"content-length" and value.isdigit():
            return int(value)
    return 0


class RequestLog:
    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.observe = observe

    @property
    def state(self) -> object:
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = RequestEntry()
        scope[ENTRY_KEY] = entry
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                entry.sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                entry.status = message["status"]
                entry.headers = message.get("headers", [])
            elif kind == "http.response.pathsend":
                entry.sent += _content_length(entry.headers)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._done(scope, entry, time.perf_counter() - began)

    def _done(self, scope: Scope, entry: RequestEntry, seconds: float) -> None:
        if self.observe is not None:
            self.observe(scope["method"], scope["path"], entry.status, seconds)
        if not self.logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        args = (
            client[0] if client else "-",
            _who(scope, entry),
            scope["method"],
            _path(scope),
            entry.status,
            entry.sent,
            round(seconds * 1000, 3),
        )
        # Handled directly: Logger.info would also walk the stack to find its caller.
        self.logger.handle(AccessRecord(args))
