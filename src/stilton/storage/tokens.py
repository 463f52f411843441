"""Queries over API tokens; only the sha256 of a token's secret is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from stilton.core.errors import NotFound
from stilton.storage.schema import indexes, tokens, utcnow


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    index: str | None  # None: every index
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def insert_token(
    connection: Connection, token_hash: str, index_id: int | None, description: str
) -> int:
    result = connection.execute(
        insert(tokens).values(
            token_hash=token_hash,
            index_id=index_id,
            description=description,
            created_at=utcnow(),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def _query() -> Select[Any]:
    return select(tokens, indexes.c.name.label("index_name")).outerjoin(
        indexes, indexes.c.id == tokens.c.index_id
    )


def find_active_token(connection: Connection, token_hash: str) -> TokenRecord | None:
    row = connection.execute(
        _query().where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return TokenRecord(
        row.id, row.index_name, row.description, row.created_at, row.last_used_at, False
    )


def touch_token(connection: Connection, token_id: int) -> None:
    connection.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=utcnow()))


def list_tokens(connection: Connection) -> list[TokenRecord]:
    rows = connection.execute(_query().order_by(tokens.c.id))
    return [
        TokenRecord(
            r.id,
            r.index_name,
            r.description,
            r.created_at,
            r.last_used_at,
            r.revoked_at is not None,
        )
        for r in rows
    ]


def revoke_token(connection: Connection, token_id: int) -> None:
    result = connection.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"No active token with id {token_id}.")
