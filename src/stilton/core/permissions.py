"""Who may do what on an index: principals, actions and access lists (pure).

An access list names principals per action: ``anonymous`` (everyone, even without
credentials), ``authenticated`` (any user or token), ``user:NAME`` and ``group:NAME``.
Administrators may do everything; a token may do only what its scopes allow, and no more than
the user who owns it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from stilton.core.errors import InvalidInput
from stilton.core.names import IndexName, ProjectName


class Action(StrEnum):
    READ = "read"
    UPLOAD = "upload"  # also yank and unyank
    ADMIN = "admin"  # delete, change settings and permissions


MIN_PASSWORD = 8  # characters of a user's password
ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
# Admin implies upload implies read.
IMPLIED: dict[Action, tuple[Action, ...]] = {
    Action.READ: (Action.READ, Action.UPLOAD, Action.ADMIN),
    Action.UPLOAD: (Action.UPLOAD, Action.ADMIN),
    Action.ADMIN: (Action.ADMIN,),
}


def parse_principal(raw: str) -> str:
    raw = raw.strip()
    if raw in (ANONYMOUS, AUTHENTICATED):
        return raw
    kind, _, name = raw.partition(":")
    if kind in ("user", "group") and name and ":" not in name:
        return f"{kind}:{name}"
    raise InvalidInput(
        f"{raw!r} is not a principal: use anonymous, authenticated, user:NAME or group:NAME."
    )


@dataclass(frozen=True, slots=True)
class Acl:
    """Who may read, upload to and administer one index."""

    read: tuple[str, ...] = (ANONYMOUS,)
    upload: tuple[str, ...] = ()
    admin: tuple[str, ...] = ()

    def granted(self, action: Action) -> tuple[str, ...]:
        """The principals the list gives ``action``, directly or through a stronger action."""
        return tuple(p for a in IMPLIED[action] for p in getattr(self, a.value))

    @property
    def is_public(self) -> bool:
        return ANONYMOUS in self.read

    def to_mapping(self) -> dict[str, list[str]]:
        return {"read": list(self.read), "upload": list(self.upload), "admin": list(self.admin)}

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Acl:
        values = values or {}
        return cls(
            read=tuple(parse_principal(p) for p in values.get("read", (ANONYMOUS,))),
            upload=tuple(parse_principal(p) for p in values.get("upload", ())),
            admin=tuple(parse_principal(p) for p in values.get("admin", ())),
        )


@dataclass(frozen=True, slots=True)
class TokenScope:
    """What a token may be used for; None means no limit on that axis."""

    indexes: tuple[IndexName, ...] | None = None
    actions: tuple[Action, ...] = (Action.READ, Action.UPLOAD)
    projects: tuple[str, ...] | None = None  # names or globs
    expires_at: datetime | None = None

    def allows(self, action: Action, index: IndexName, project: ProjectName | None) -> bool:
        if not any(a in self.actions for a in IMPLIED[action]):
            return False
        if self.indexes is not None and index not in self.indexes:
            return False
        if self.projects is not None and project is not None:
            return any(fnmatch.fnmatchcase(project, p) for p in self.projects)
        return True  # no project yet (an upload before its file is read): checked again later

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: nobody (anonymous), a user, or a token (perhaps owned by a user)."""

    username: str | None = None
    groups: tuple[str, ...] = ()
    is_admin: bool = False
    token_id: int | None = None
    scope: TokenScope | None = None

    @property
    def anonymous(self) -> bool:
        return self.username is None and self.token_id is None

    @property
    def label(self) -> str:
        """For audit entries: never a secret."""
        if self.token_id is not None:
            owner = f" of {self.username}" if self.username else ""
            return f"token:{self.token_id}{owner}"
        return f"user:{self.username}" if self.username else ANONYMOUS

    def names(self) -> set[str]:
        found = {ANONYMOUS}
        if not self.anonymous:
            found.add(AUTHENTICATED)
        if self.username:
            found.add(f"user:{self.username}")
        found.update(f"group:{g}" for g in self.groups)
        return found


ANONYMOUS_PRINCIPAL = Principal()


def allowed(
    principal: Principal,
    action: Action,
    index: IndexName,
    acl: Acl,
    project: ProjectName | None = None,
) -> bool:
    if principal.scope is not None and not principal.scope.allows(action, index, project):
        return False
    if principal.is_admin:
        return True
    if principal.token_id is not None and principal.username is None:
        # A token with no owner was made by an administrator for this purpose: its scope is
        # its permission, on top of what anyone may do.
        return principal.scope is not None or bool(principal.names() & set(acl.granted(action)))
    return bool(principal.names() & set(acl.granted(action)))


def parse_principals(raw: Sequence[str]) -> tuple[str, ...]:
    return tuple(parse_principal(p) for p in raw)
