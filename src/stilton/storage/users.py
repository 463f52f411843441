"""Queries over users and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from stilton.core.errors import Conflict, NotFound
from stilton.storage.schema import audit_log, users, utcnow


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    groups: tuple[str, ...]
    created_at: datetime

    def __repr__(self) -> str:
        return f"UserRecord(id={self.id}, username={self.username!r}, is_admin={self.is_admin})"


def _user(row: Row[Any]) -> UserRecord:
    return UserRecord(
        row.id,
        row.username,
        row.password_hash,
        row.is_admin,
        tuple(row.groups or ()),
        row.created_at,
    )


def find_user(connection: Connection, username: str) -> UserRecord | None:
    row = connection.execute(select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def find_user_by_id(connection: Connection, user_id: int) -> UserRecord | None:
    row = connection.execute(select(users).where(users.c.id == user_id)).first()
    return _user(row) if row else None


def get_user(connection: Connection, username: str) -> UserRecord:
    user = find_user(connection, username)
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def list_users(connection: Connection) -> list[UserRecord]:
    return [_user(row) for row in connection.execute(select(users).order_by(users.c.username))]


def insert_user(
    connection: Connection, username: str, password_hash: str, is_admin: bool, groups: list[str]
) -> UserRecord:
    if find_user(connection, username) is not None:
        raise Conflict(f"A user named {username!r} already exists.")
    connection.execute(
        insert(users).values(
            username=username,
            password_hash=password_hash,
            is_admin=is_admin,
            groups=groups,
            created_at=utcnow(),
        )
    )
    return get_user(connection, username)


def update_user(connection: Connection, username: str, **values: Any) -> None:
    result = connection.execute(update(users).where(users.c.username == username).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"No user named {username!r}.")


def delete_user(connection: Connection, username: str) -> None:
    result = connection.execute(delete(users).where(users.c.username == username))
    if result.rowcount == 0:
        raise NotFound(f"No user named {username!r}.")


def count_admins(connection: Connection) -> int:
    return len(connection.execute(select(users.c.id).where(users.c.is_admin.is_(True))).all())


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    address: str
    action: str
    index: str | None
    project: str | None
    detail: str | None


def add_audit(
    connection: Connection,
    actor: str,
    action: str,
    *,
    address: str = "",
    index: str | None = None,
    project: str | None = None,
    detail: str | None = None,
) -> None:
    connection.execute(
        insert(audit_log).values(
            at=utcnow(),
            actor=actor,
            address=address,
            action=action,
            index_name=index,
            project=project,
            detail=detail,
        )
    )


def list_audit(connection: Connection, limit: int = 100) -> list[AuditEntry]:
    rows = connection.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
    return [
        AuditEntry(r.at, r.actor, r.address, r.action, r.index_name, r.project, r.detail)
        for r in rows
    ]
