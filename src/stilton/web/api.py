"""The admin JSON API under ``/api/``: indexes, permissions, users, tokens, yanks and deletes,
and the audit log, with an OpenAPI schema at ``/api/openapi.json``. It calls the same service
layer as the command line."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, field_validator
from starlette.concurrency import run_in_threadpool

from stilton.core.errors import (
    AuthenticationRequired,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StiltonError,
    TooManyAttempts,
)
from stilton.core.groups import parse_rule
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, ProjectName, normalize_project_name
from stilton.core.permissions import Acl, Action, Principal, allowed, parse_principals
from stilton.core.policies import Policy
from stilton.indexes.hosted import HostedIndex
from stilton.runtime import Runtime
from stilton.storage import upstream_health
from stilton.storage.catalog import IndexRecord
from stilton.storage.upstream_health import HealthReport
from stilton.web.auth import client_address, principal_of
from stilton.web.errors import REALM, status_of
from stilton.web.state import WebState


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 429)
}
ActionName = Literal["read", "upload", "admin"]


def _read_and_upload() -> list[ActionName]:
    return ["read", "upload"]


class IndexOut(BaseModel):
    name: str
    kind: Literal["hosted", "proxy", "group"]
    configuration: dict[str, Any]
    permissions: dict[str, list[str]]
    # A proxy's upstream as the server's processes last judged it, for those who administer it.
    upstream_health: dict[str, Any] | None = None


class IndexIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["hosted", "proxy", "group"] = "hosted"
    upstream: dict[str, Any] | None = None
    members: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)


class IndexChange(BaseModel):
    upstream: dict[str, Any] | None = None
    members: list[str] | None = None
    rules: list[str] | None = None
    policy: dict[str, Any] | None = None


class AclModel(BaseModel):
    read: list[str] = Field(default_factory=lambda: ["anonymous"])
    upload: list[str] = Field(default_factory=list)
    admin: list[str] = Field(default_factory=list)


class FilesChange(BaseModel):
    project: str = Field(min_length=1, max_length=255)
    version: str | None = Field(default=None, max_length=255)
    filename: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=1000)


class FilesOut(BaseModel):
    files: list[str]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=8, max_length=1024)
    is_admin: StrictBool = False
    groups: list[str] = Field(default_factory=list)


class UserOut(BaseModel):
    username: str
    is_admin: bool
    groups: list[str]
    created_at: datetime


class PasswordIn(BaseModel):
    password: str = Field(min_length=8, max_length=1024)


class TokenIn(BaseModel):
    description: str = Field(default="", max_length=1000)
    indexes: list[str] | None = None
    actions: list[ActionName] = Field(default_factory=_read_and_upload)
    projects: list[str] | None = None
    expires_at: datetime | None = None
    user: str | None = None

    @field_validator("expires_at", mode="before")
    @classmethod
    def _a_date_not_a_number(cls, value: object) -> object:
        # Pydantic would read 416 (or "416") as seconds since 1970: refuse it, as the schema does.
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
            raise ValueError("expires_at is an ISO 8601 date-time, not a number")
        return value


class TokenOut(BaseModel):
    id: int
    owner: str | None
    indexes: list[str] | None
    actions: list[str]
    description: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class NewTokenOut(BaseModel):
    id: int
    token: str


class AuditOut(BaseModel):
    at: datetime
    actor: str
    address: str
    action: str
    index: str | None
    project: str | None
    detail: str | None


class WhoAmIOut(BaseModel):
    principal: str
    username: str | None
    is_admin: bool
    groups: list[str]


def _state(request: Request) -> WebState:
    state = request.app.state.stilton
    assert isinstance(state, WebState)
    return state


async def _principal(request: Request) -> Principal:
    principal = await principal_of(request)
    if principal.anonymous:
        raise AuthenticationRequired("The admin API needs credentials.")
    return principal


Caller = Annotated[Principal, Depends(_principal)]
TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _is_admin(principal: Principal) -> bool:
    return principal.is_admin and (
        principal.scope is None or Action.ADMIN in principal.scope.actions
    )


def _require_admin(principal: Principal) -> None:
    if not _is_admin(principal):
        raise PermissionDenied(f"{principal.label} is not an administrator.")


def _index_out(record: IndexRecord) -> IndexOut:
    config = IndexConfig.from_mapping(record.config)
    shown = config.to_mapping()
    if config.upstream is not None:
        upstream = dict(shown["upstream"])
        for secret in ("password", "token"):
            if upstream.get(secret):
                upstream[secret] = "***"
        shown["upstream"] = upstream
    shown.pop("permissions", None)
    return IndexOut(
        name=record.name,
        kind=record.kind.value,
        configuration=shown,
        permissions=config.acl.to_mapping(),
    )


def _may(principal: Principal, action: Action, record: IndexRecord) -> bool:
    acl = IndexConfig.from_mapping(record.config).acl
    return allowed(principal, action, record.name, acl)


def _index_seen_by(
    principal: Principal, record: IndexRecord, reports: Mapping[IndexName, HealthReport | None]
) -> IndexOut:
    """An index as the caller may see it: its configuration (upstream, members, policy),
    permissions and a proxy's upstream health only for those who may administer it."""
    shown = _index_out(record)
    if not _may(principal, Action.ADMIN, record):
        return shown.model_copy(update={"configuration": {}, "permissions": {}})
    if record.kind is IndexKind.PROXY:
        health = upstream_health.shown(reports.get(record.name))
        return shown.model_copy(update={"upstream_health": health})
    return shown


async def _index_admin(request: Request, principal: Principal, name: str) -> IndexRecord:
    runtime = _state(request).runtime
    record = await run_in_threadpool(runtime.get_index_record, name)
    acl = IndexConfig.from_mapping(record.config).acl
    if not allowed(principal, Action.ADMIN, record.name, acl):
        raise PermissionDenied(f"{principal.label} isn't allowed to administer index {name!r}.")
    return record


def create_api(state: WebState) -> FastAPI:
    api = FastAPI(
        title="Stilton admin API",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=ERRORS,
    )
    api.state.stilton = state
    runtime: Runtime = state.runtime

    @api.exception_handler(StiltonError)
    async def stilton_error(request: Request, exc: StiltonError) -> JSONResponse:
        status = status_of(exc)
        headers = {}
        if isinstance(exc, AuthenticationRequired):
            headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse({"detail": exc.message}, status, headers=headers)

    def audit(request: Request, principal: Principal, action: str, **values: Any) -> None:
        runtime.auth.audit(principal.label, action, address=client_address(request), **values)

    @api.get("/whoami", response_model=WhoAmIOut)
    async def whoami(caller: Caller) -> WhoAmIOut:
        return WhoAmIOut(
            principal=caller.label,
            username=caller.username,
            is_admin=_is_admin(caller),
            groups=list(caller.groups),
        )

    @api.get("/indexes", response_model=list[IndexOut])
    async def list_indexes(caller: Caller) -> list[IndexOut]:
        """The indexes the caller may read; configuration only where it may administer."""
        records = await run_in_threadpool(runtime.list_indexes)
        reports = await run_in_threadpool(runtime.upstream_reports)
        return [_index_seen_by(caller, r, reports) for r in records if _may(caller, Action.READ, r)]

    @api.post("/indexes", response_model=IndexOut, status_code=201)
    async def create_index(request: Request, body: IndexIn, caller: Caller) -> IndexOut:
        _require_admin(caller)
        rules = [parse_rule(r) for r in body.rules]
        record = await run_in_threadpool(
            runtime.create_index,
            body.name,
            IndexKind(body.kind),
            body.upstream,
            body.members,
            rules,
        )
        await run_in_threadpool(audit, request, caller, "create index", index=record.name)
        return _index_out(record)

    @api.get("/indexes/{name}", response_model=IndexOut)
    async def get_index(name: str, caller: Caller) -> IndexOut:
        record = await run_in_threadpool(runtime.get_index_record, name)
        if not _may(caller, Action.READ, record):
            raise NotFound(f"No index named {name!r}.")  # not even whether it exists
        reports = await run_in_threadpool(runtime.upstream_reports)
        return _index_seen_by(caller, record, reports)

    @api.patch("/indexes/{name}", response_model=IndexOut)
    async def change_index(
        request: Request, name: str, body: IndexChange, caller: Caller
    ) -> IndexOut:
        await _index_admin(request, caller, name)
        record = await run_in_threadpool(
            lambda: runtime.configure(
                name,
                upstream=body.upstream,
                members=body.members,
                rules=[parse_rule(r) for r in body.rules] if body.rules is not None else None,
                policy=Policy.from_mapping(body.policy) if body.policy is not None else None,
            )
        )
        await run_in_threadpool(audit, request, caller, "change index", index=name)
        return _index_out(record)

    @api.get("/indexes/{name}/permissions", response_model=AclModel)
    async def get_permissions(request: Request, name: str, caller: Caller) -> AclModel:
        record = await _index_admin(request, caller, name)
        return AclModel(**IndexConfig.from_mapping(record.config).acl.to_mapping())

    @api.put("/indexes/{name}/permissions", response_model=AclModel)
    async def set_permissions(
        request: Request, name: str, body: AclModel, caller: Caller
    ) -> AclModel:
        await _index_admin(request, caller, name)
        acl = Acl(
            parse_principals(body.read), parse_principals(body.upload), parse_principals(body.admin)
        )
        await run_in_threadpool(
            runtime.set_permissions, name, acl, caller.label, client_address(request)
        )
        return AclModel(**acl.to_mapping())

    async def _hosted(
        name: str, caller: Principal, action: Action, project: ProjectName
    ) -> HostedIndex:
        index = await run_in_threadpool(runtime.hosted, name)
        acl = IndexConfig.from_mapping(index.record.config).acl
        if not allowed(caller, action, index.name, acl, project):
            raise PermissionDenied(f"{caller.label} may not change files of index {name!r}.")
        return index

    @api.post("/indexes/{name}/yank", response_model=FilesOut)
    async def yank(request: Request, name: str, body: FilesChange, caller: Caller) -> FilesOut:
        return await _change_files(request, name, body, caller, "yank")

    @api.post("/indexes/{name}/unyank", response_model=FilesOut)
    async def unyank(request: Request, name: str, body: FilesChange, caller: Caller) -> FilesOut:
        return await _change_files(request, name, body, caller, "unyank")

    @api.post("/indexes/{name}/delete", response_model=FilesOut)
    async def delete(request: Request, name: str, body: FilesChange, caller: Caller) -> FilesOut:
        return await _change_files(request, name, body, caller, "delete")

    async def _change_files(
        request: Request, name: str, body: FilesChange, caller: Principal, verb: str
    ) -> FilesOut:
        if body.version is None and body.filename is None:
            raise InvalidInput("Name a release (version) or a file (filename).")
        action = Action.ADMIN if verb == "delete" else Action.UPLOAD
        index = await _hosted(name, caller, action, normalize_project_name(body.project))
        address = client_address(request)
        if verb == "delete":
            names = await run_in_threadpool(
                index.delete, body.project, body.version, body.filename, caller.label, address
            )
        else:
            names = await run_in_threadpool(
                lambda: index.set_yanked(
                    body.project, body.version, body.filename, yanked=verb == "yank",
                    reason=body.reason, actor=caller.label, address=address,
                )
            )  # fmt: skip
        return FilesOut(files=names)

    @api.get("/users", response_model=list[UserOut])
    async def list_users(caller: Caller) -> list[UserOut]:
        _require_admin(caller)
        return [
            UserOut(
                username=u.username,
                is_admin=u.is_admin,
                groups=list(u.groups),
                created_at=u.created_at,
            )
            for u in await run_in_threadpool(runtime.auth.list_users)
        ]

    @api.post("/users", response_model=UserOut, status_code=201)
    async def add_user(request: Request, body: UserIn, caller: Caller) -> UserOut:
        _require_admin(caller)
        user = await run_in_threadpool(
            lambda: runtime.auth.add_user(
                body.username, body.password, is_admin=body.is_admin, groups=body.groups,
                actor=caller.label, address=client_address(request),
            )
        )  # fmt: skip
        return UserOut(
            username=user.username,
            is_admin=user.is_admin,
            groups=list(user.groups),
            created_at=user.created_at,
        )

    @api.put("/users/{username}/password", status_code=204)
    async def set_password(
        request: Request, username: str, body: PasswordIn, caller: Caller
    ) -> None:
        if caller.username != username or caller.token_id is not None:
            _require_admin(caller)
        await run_in_threadpool(
            lambda: runtime.auth.set_password(
                username, body.password, actor=caller.label, address=client_address(request)
            )
        )

    @api.delete("/users/{username}", status_code=204)
    async def remove_user(request: Request, username: str, caller: Caller) -> None:
        _require_admin(caller)
        await run_in_threadpool(
            lambda: runtime.auth.remove_user(
                username, actor=caller.label, address=client_address(request)
            )
        )

    @api.get("/tokens", response_model=list[TokenOut])
    async def list_tokens(caller: Caller) -> list[TokenOut]:
        records = await run_in_threadpool(runtime.auth.list_tokens)
        if not _is_admin(caller):
            records = [r for r in records if r.username and r.username == caller.username]
        return [
            TokenOut(
                id=r.id,
                owner=r.username,
                indexes=(r.scopes or {}).get("indexes") or ([r.index] if r.index else None),
                actions=(r.scopes or {}).get("actions", ["read", "upload"]),
                description=r.description,
                created_at=r.created_at,
                expires_at=r.expires_at,
                last_used_at=r.last_used_at,
                revoked=r.revoked,
            )
            for r in records
        ]

    @api.post("/tokens", response_model=NewTokenOut, status_code=201)
    async def create_token(request: Request, body: TokenIn, caller: Caller) -> NewTokenOut:
        owner = body.user
        if not _is_admin(caller):
            if caller.username is None or caller.token_id is not None:
                raise PermissionDenied("Only administrators and users (by password) make tokens.")
            if owner not in (None, caller.username):
                raise PermissionDenied("You can make tokens only for yourself.")
            owner = caller.username
        token_id, token = await run_in_threadpool(
            lambda: runtime.auth.create_token(
                None, body.description, user=owner, indexes=body.indexes,
                actions=[Action(a) for a in body.actions], projects=body.projects,
                expires_at=body.expires_at, actor=caller.label, address=client_address(request),
            )
        )  # fmt: skip
        return NewTokenOut(id=token_id, token=token)

    @api.delete("/tokens/{token_id}", status_code=204)
    async def revoke_token(request: Request, token_id: TokenId, caller: Caller) -> None:
        if not _is_admin(caller):
            mine = [
                r for r in await run_in_threadpool(runtime.auth.list_tokens) if r.id == token_id
            ]
            if not mine or mine[0].username != caller.username or caller.username is None:
                raise NotFound(f"No active token with id {token_id}.")
        await run_in_threadpool(
            lambda: runtime.auth.revoke_token(
                token_id, actor=caller.label, address=client_address(request)
            )
        )

    @api.get("/audit", response_model=list[AuditOut])
    async def audit_log(
        caller: Caller, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> list[AuditOut]:
        _require_admin(caller)
        return [
            AuditOut(
                at=e.at, actor=e.actor, address=e.address, action=e.action,
                index=e.index, project=e.project, detail=e.detail,
            )
            for e in await run_in_threadpool(runtime.auth.audit_log, limit)
        ]  # fmt: skip

    return api
