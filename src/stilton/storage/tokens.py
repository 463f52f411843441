"""Queries over API tokens; only the sha256 of a token's secret is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, insert, select, update

from stilton.core.errors import NotFound
from stilton.storage.schema import indexes, tokens, users, utcnow


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    index: str | None  # the one index of a token made with --index (older form of a scope)
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    username: str | None = None  # the owner, if any
    scopes: dict[str, Any] | None = None
    expires_at: datetime | None = None


def insert_token(
    connection: Connection,
    token_hash: str,
    index_id: int | None,
    description: str,
    *,
    user_id: int | None = None,
    scopes: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> int:
    result = connection.execute(
        insert(tokens).values(
            token_hash=token_hash,
            index_id=index_id,
            description=description,
            created_at=utcnow(),
            user_id=user_id,
            scopes=scopes,
            expires_at=expires_at,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def _query() -> Select[Any]:
    return (
        select(tokens, indexes.c.name.label("index_name"), users.c.username.label("owner"))
        .outerjoin(indexes, indexes.c.id == tokens.c.index_id)
        .outerjoin(users, users.c.id == tokens.c.user_id)
    )


def _record(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        row.id,
        row.index_name,
        row.description,
        row.created_at,
        row.last_used_at,
        row.revoked_at is not None,
        row.owner,
        dict(row.scopes) if row.scopes else None,
        row.expires_at,
    )


def find_active_token(connection: Connection, token_hash: str) -> TokenRecord | None:
    row = connection.execute(
        _query().where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None))
    ).first()
    return _record(row) if row else None


def touch_token(connection: Connection, token_id: int) -> None:
    connection.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=utcnow()))


def list_tokens(connection: Connection) -> list[TokenRecord]:
    return [_record(row) for row in connection.execute(_query().order_by(tokens.c.id))]


def revoke_token(connection: Connection, token_id: int) -> None:
    result = connection.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"No active token with id {token_id}.")
