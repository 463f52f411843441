"""Who a request is and whether it may do what it asks, for every route that reads or writes an
index. Reading a public index never needs credentials; a private index answers 401 with a Basic
challenge (pip's keyring flow needs it) and 403 to someone known but not allowed."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stilton.auth.credentials import Credentials, parse_basic_authorization
from stilton.core.errors import (
    AuthenticationRequired,
    PermissionDenied,
    StiltonError,
    Unauthenticated,
)
from stilton.core.names import IndexName, ProjectName
from stilton.core.permissions import ANONYMOUS_PRINCIPAL, Action, Principal, allowed
from stilton.indexes.base import Index
from stilton.web.forwarded import CLIENT_CERT_SUBJECT
from stilton.web.state import WebState, state_of


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def principal_of(request: Request) -> Principal:
    """The principal the request's credentials name (anonymous without any); bad credentials
    raise Unauthenticated, after the brute-force guard's delay."""
    cached = request.scope.get("stilton.principal")
    if isinstance(cached, Principal):
        return cached
    credentials = parse_basic_authorization(request.headers.get("authorization"))
    if credentials is None:
        principal = await _certificate_principal(request)
    else:
        principal = await _checked(request, credentials)
    request.scope["stilton.principal"] = principal
    return principal


async def _certificate_principal(request: Request) -> Principal:
    subject = request.scope.get(CLIENT_CERT_SUBJECT)
    if not subject:
        return ANONYMOUS_PRINCIPAL
    return await run_in_threadpool(state_of(request).runtime.auth.certificate_user, subject)


async def _checked(request: Request, credentials: Credentials) -> Principal:
    """Credentials this address proved a moment ago are known at once (they are no guess);
    others are checked once per address at a time, with the brute-force guard's leave."""
    state, address = state_of(request), client_address(request)
    remembered = state.runtime.auth.remembered(credentials, address=address)
    if remembered is not None:
        return remembered
    path = request.url.path
    return await state.checks.once(
        (address, credentials), lambda: _check(state, credentials, address, path)
    )


async def _check(state: WebState, credentials: Credentials, address: str, path: str) -> Principal:
    """Counted by the guard as it arrives (a locked-out address, or one past its limit, gets
    429 before anything is hashed), then run when a slot is free."""
    await run_in_threadpool(state.guard.attempt, address)
    auth = state.runtime.auth
    try:
        async with state.checks.turn(credentials):
            principal = await run_in_threadpool(auth.authenticate, credentials, address=address)
    except Unauthenticated:
        await _failed(state, credentials, address, path)
        raise
    await run_in_threadpool(state.guard.succeeded, address)
    return principal


async def _failed(state: WebState, credentials: Credentials, address: str, path: str) -> None:
    """Audit a failed check, then refuse (the address is locked out now) or delay the answer."""
    actor = "token:?" if credentials.is_token else f"user:{credentials.username}"
    await run_in_threadpool(
        state.runtime.auth.audit, actor, "failed login", address=address, detail=path
    )
    delay = await run_in_threadpool(state.guard.failed, address)
    if delay:
        await asyncio.sleep(delay)


async def authorize(
    request: Request, index: Index, action: Action, project: ProjectName | None = None
) -> Principal:
    state = state_of(request)
    acl = state.acl(index.name)
    if action is Action.READ and acl.is_public:
        return ANONYMOUS_PRINCIPAL  # the hot path: nothing to check
    principal = await _principal(request, index.name, action)
    if allowed(principal, action, index.name, acl, project):
        return principal
    raise _refusal(principal, action, index.name, project)


async def authorize_sources(
    request: Request, index: Index, project: ProjectName | None, sources: frozenset[IndexName]
) -> None:
    """DESIGN.md, "Permissions through groups": reading a group's project needs read access to
    every member it comes from as well. Resolution never depends on who asks, so a private
    member's name is refused (401 to the anonymous), never replaced by a public namesake."""
    built = state_of(request).built(index.name)
    closed = sorted(s for s in sources if not built.acls[s].is_public)
    if not closed:
        return
    principal = await _principal(request, index.name, Action.READ)
    for source in closed:
        # The token's scope is checked against the index asked; the member's access list
        # against who the principal is.
        if not allowed(principal, Action.READ, index.name, built.acls[source], project):
            raise _refusal(principal, Action.READ, index.name, project, source)


async def project_sources(
    request: Request, index: Index, project: ProjectName | None
) -> frozenset[IndexName]:
    """The other indexes a project of ``index`` comes from (a group's serving members); only
    looked up where it can matter: an index built from others that are not all public."""
    if project is None or state_of(request).built(index.name).public:
        return frozenset()
    view = await index.find_project(project)
    return view.sources if view is not None else frozenset()


async def readable_members(request: Request, index: Index) -> frozenset[IndexName]:
    """The indexes an index is built from whose projects the asker may see."""
    built = state_of(request).built(index.name)
    principal = await _principal(request, index.name, Action.READ)
    return frozenset(
        IndexName(name)
        for name, acl in built.acls.items()
        if allowed(principal, Action.READ, index.name, acl)
    )


async def _principal(request: Request, index: str, action: Action) -> Principal:
    try:
        return await principal_of(request)
    except Unauthenticated:
        if action is Action.UPLOAD:
            raise
        raise AuthenticationRequired(
            f"Index {index!r} needs valid credentials: a username and password, or"
            " '__token__' and a token."
        ) from None


def _refusal(
    principal: Principal,
    action: Action,
    index: str,
    project: ProjectName | None,
    source: str | None = None,
) -> StiltonError:
    where = f" (it comes from the private index {source!r})" if source else ""
    if principal.anonymous and action is not Action.UPLOAD:
        if source:
            return AuthenticationRequired(
                f"Project {project!r} in index {index!r} is private{where}; log in to read it."
            )
        return AuthenticationRequired(f"Index {index!r} is private; log in to read it.")
    if principal.anonymous:
        return Unauthenticated(
            "Invalid or non-existent authentication information. Upload with HTTP Basic"
            " authentication: your username and password, or '__token__' and a token."
        )
    verb = {Action.READ: "read", Action.UPLOAD: "upload to", Action.ADMIN: "administer"}[action]
    target = f"project {project!r} in " if project else ""
    return PermissionDenied(
        f"{principal.label} isn't allowed to {verb} {target}index {index!r}{where}."
    )
