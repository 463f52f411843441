"""Credentials as clients send them: HTTP Basic, with a password or with ``__token__`` and a
token. The secret never appears in a repr."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

TOKEN_USERNAME = "__token__"  # noqa: S105 - the conventional username, not a secret
TOKEN_PREFIX = "stl_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"

    @property
    def is_token(self) -> bool:
        return self.username == TOKEN_USERNAME or self.password.startswith(TOKEN_PREFIX)


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
