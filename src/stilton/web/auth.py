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
    InvalidInput,
    PermissionDenied,
    StiltonError,
    TooManyAttempts,
    Unauthenticated,
)
from stilton.core.filenames import parse_distribution_filename
from stilton.core.names import IndexName, ProjectName, is_valid_project_name, normalize_project_name
from stilton.core.permissions import ANONYMOUS_PRINCIPAL, Action, Principal, allowed
from stilton.core.urls import METADATA_SUFFIX
from stilton.indexes.base import Index
from stilton.web.forwarded import CLIENT_CERT_SUBJECT
from stilton.web.request_log import note_principal
from stilton.web.state import WebState, state_of


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def principal_of(request: Request) -> Principal:
    """The principal the request's credentials name (anonymous without any); bad credentials
    raise Unauthenticated, after the brute-force guard's delay, and credentials from a
    locked-out address TooManyAttempts, unchecked."""
    cached = request.scope.get("stilton.principal")
    if isinstance(cached, Principal):
        return cached
    credentials = parse_basic_authorization(request.headers.get("authorization"))
    if credentials is None:
        principal = await _certificate_principal(request)
    else:
        principal = await checked_credentials(request, credentials)
    request.scope["stilton.principal"] = principal
    note_principal(request.scope, principal)
    return principal


async def _certificate_principal(request: Request) -> Principal:
    subject = request.scope.get(CLIENT_CERT_SUBJECT)
    if not subject:
        return ANONYMOUS_PRINCIPAL
    return await run_in_threadpool(state_of(request).runtime.auth.certificate_user, subject)


async def checked_credentials(request: Request, credentials: Credentials) -> Principal:
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
    try:
        await run_in_threadpool(state.guard.attempt, address)
    except TooManyAttempts:
        state.metrics.authentication_failed("locked_out")
        raise
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
    state.metrics.authentication_failed(
        "invalid_token" if credentials.is_token else "invalid_password"
    )
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
    """The principal, if it may do ``action`` on ``index`` (and ``project``: on read routes it
    is taken from the path when not given); else 401 or 403."""
    state = state_of(request)
    acl = state.acl(index.name)
    if action is Action.READ and acl.is_public:
        return ANONYMOUS_PRINCIPAL  # the hot path: nothing to check
    principal = await _principal(request, index.name, action)
    if action is Action.READ:
        project = project or project_in_path(request)
        _check_read_scope(principal, index.name, project)
    if allowed(principal, action, index.name, acl, project):
        return principal
    raise _refusal(principal, action, index.name, project)


def project_in_path(request: Request) -> ProjectName | None:
    """The project a read route's path names: a page or JSON document's project, or the
    project in a file's (or its metadata's) filename. None for an index's project list."""
    params = request.path_params
    raw = params.get("project")
    if raw is not None:
        return normalize_project_name(raw) if is_valid_project_name(raw) else None
    filename = params.get("filename")
    if filename is None:
        return None
    try:
        return parse_distribution_filename(filename.removesuffix(METADATA_SUFFIX)).project
    except InvalidInput:
        return None


def _check_read_scope(principal: Principal, index: str, project: ProjectName | None) -> None:
    """A token limited to some projects reads only those: not an index's project list (the
    names of the others), nor a file whose name names no project."""
    scope = principal.scope
    if scope is None or scope.projects is None or project is not None:
        return
    projects = ", ".join(repr(p) for p in scope.projects)
    raise PermissionDenied(
        f"{principal.label} is limited to the projects {projects}; it may read their pages"
        f" and files in index {index!r}, not the index's list of projects."
    )


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
