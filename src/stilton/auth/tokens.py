"""API tokens: made with enough entropy that a fast hash is safe to store, shown only once.

A token is ``stl_`` and 43 URL-safe characters (256 random bits). Only its sha256 is stored,
so a stolen database reveals no usable token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from stilton.core.errors import PermissionDenied, Unauthenticated
from stilton.core.names import IndexName
from stilton.storage.catalog import get_index
from stilton.storage.database import Database
from stilton.storage.tokens import (
    TokenRecord,
    find_active_token,
    insert_token,
    list_tokens,
    revoke_token,
    touch_token,
)

TOKEN_PREFIX = "stl_"  # noqa: S105 - a prefix, not a secret
TOKEN_USERNAME = "__token__"  # noqa: S105 - the conventional username
INVALID_AUTH = (
    "Invalid or non-existent authentication information. Upload with HTTP Basic"
    " authentication, username '__token__' and a token made by 'stilton token create'."
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"


def parse_basic_authorization(header: str | None) -> Credentials | None:
    """The credentials of an ``Authorization: Basic`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return Credentials(username, password) if sep else None


class TokenService:
    """Create, list, revoke and check API tokens."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, index: IndexName | None, description: str = "") -> tuple[int, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.database.begin() as connection:
            index_id = get_index(connection, index).id if index else None
            token_id = insert_token(connection, hash_token(token), index_id, description)
        return token_id, token

    def list(self) -> list[TokenRecord]:
        with self.database.connect() as connection:
            return list_tokens(connection)

    def revoke(self, token_id: int) -> None:
        with self.database.begin() as connection:
            revoke_token(connection, token_id)

    def authorize_upload(self, credentials: Credentials | None, index: IndexName) -> TokenRecord:
        """The token allowed to upload to ``index``; raise with a reason a person can act on."""
        if credentials is None or not credentials.password:
            raise Unauthenticated(INVALID_AUTH)
        if credentials.username != TOKEN_USERNAME:
            raise Unauthenticated(
                f"Username/password authentication is not supported for uploads; use username"
                f" '{TOKEN_USERNAME}' and an API token as the password."
            )
        token_hash = hash_token(credentials.password)
        with self.database.begin() as connection:
            record = find_active_token(connection, token_hash)
            if record is None:
                raise Unauthenticated(INVALID_AUTH)
            if record.index is not None and record.index != index:
                raise PermissionDenied(
                    f"This token may upload only to index {record.index!r}, not {index!r}."
                )
            touch_token(connection, record.id)
        return record
