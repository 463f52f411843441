"""Users, API tokens and the audit log: the one service layer the CLI and the admin API share.

Passwords are hashed with argon2id; tokens are 256 random bits, so only their sha256 is kept.
A successful check is remembered briefly, because installers send credentials with every
request and argon2 is slow on purpose. It is remembered for the client address that made it:
credentials proven from an address are no guess when that address sends them again, so only
checks that are not remembered need the brute-force guard's leave.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from stilton.auth.credentials import TOKEN_PREFIX, Credentials
from stilton.core.errors import InvalidInput, PermissionDenied, Unauthenticated
from stilton.core.names import IndexName
from stilton.core.permissions import MIN_PASSWORD, Action, Principal, TokenScope
from stilton.storage import users as user_store
from stilton.storage.catalog import get_index
from stilton.storage.changes import RESET, Change, ChangeFeed, ChangeScope, publish
from stilton.storage.database import Database
from stilton.storage.tokens import (
    TokenRecord,
    find_active_token,
    insert_token,
    list_tokens,
    revoke_token,
    touch_token,
)
from stilton.storage.users import AuditEntry, UserRecord

if TYPE_CHECKING:
    from argon2 import PasswordHasher

INVALID_AUTH = (
    "Invalid or non-existent authentication information. Use HTTP Basic authentication with"
    " your username and password, or username '__token__' and a token made by"
    " 'stilton token create'."
)
VERIFIED_FOR = 60.0  # seconds a successful credential check is remembered


def common_name(subject: str) -> str | None:
    """The CN of a distinguished name: ``CN=alice,O=Acme`` or ``/O=Acme/CN=alice``."""
    for part in subject.replace("/", ",").split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip().upper() == "CN" and value.strip():
            return value.strip()
    return None


def _memory_key(credentials: Credentials, address: str) -> str:
    text = f"{address}\0{credentials.username}\0{credentials.password}"
    return hashlib.sha256(text.encode()).hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _valid_username(username: str) -> str:
    if not username or len(username) > 128 or ":" in username or username.startswith("__"):
        raise InvalidInput(
            f"{username!r} is not a valid username: 1-128 characters, no ':', not starting"
            " with '__'."
        )
    return username


def _valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Passwords have at least {MIN_PASSWORD} characters.")
    return password


def project_pattern(raw: str) -> str:
    """A token's project name or glob in the form of the names it is matched against (PEP 503:
    lowercase, every run of '-', '_' and '.' one '-'), so 'Acme_*' matches 'acme-utils'."""
    pattern = re.sub(r"[-_.]+", "-", raw.strip()).lower()
    if not pattern.strip("-"):
        raise InvalidInput(f"{raw!r} is not a project name or glob.")
    return pattern


def scope_of(record: TokenRecord) -> TokenScope:
    scopes = record.scopes or {}
    indexes = scopes.get("indexes")
    if indexes is None and record.index is not None:
        indexes = [record.index]
    return TokenScope(
        indexes=tuple(IndexName(i) for i in indexes) if indexes is not None else None,
        actions=tuple(Action(a) for a in scopes.get("actions", ("read", "upload"))),
        projects=tuple(scopes["projects"]) if scopes.get("projects") else None,
        expires_at=record.expires_at,
    )


class AuthService:
    def __init__(self, database: Database, feed: ChangeFeed) -> None:
        self.database = database
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._dummy_hash: str | None = None
        self._epoch = 0  # moves on with every change heard: a check begun before is not kept
        feed.subscribe(self._heard)

    @cached_property
    def hasher(self) -> PasswordHasher:
        """argon2id with its library's defaults; imported by the first command that hashes or
        checks a password (listing users or tokens does neither)."""
        from argon2 import PasswordHasher

        return PasswordHasher()

    def _heard(self, changes: Sequence[Change]) -> None:
        """A user, token or group changed here or in another process: check again."""
        if any(c.scope is ChangeScope.AUTH or c == RESET for c in changes):
            self._epoch += 1
            self._verified.clear()

    # -- users -----------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        *,
        is_admin: bool = False,
        groups: list[str] | None = None,
        actor: str = "cli",
        address: str = "",
    ) -> UserRecord:
        hashed = self.hasher.hash(_valid_password(password))
        with self.database.begin() as connection:
            user = user_store.insert_user(
                connection, _valid_username(username), hashed, is_admin, groups or []
            )
            user_store.add_audit(connection, actor, "add user", address=address, detail=username)
        return user

    def set_password(
        self, username: str, password: str, *, actor: str = "cli", address: str = ""
    ) -> None:
        hashed = self.hasher.hash(_valid_password(password))
        with self.database.begin() as connection:
            user_store.update_user(connection, username, password_hash=hashed)
            user_store.add_audit(
                connection, actor, "change password", address=address, detail=username
            )
            publish(connection, ChangeScope.AUTH)

    def set_user(
        self, username: str, *, is_admin: bool | None = None, groups: list[str] | None = None
    ) -> None:
        values: dict[str, Any] = {}
        if is_admin is not None:
            values["is_admin"] = is_admin
        if groups is not None:
            values["groups"] = groups
        with self.database.begin() as connection:
            user_store.update_user(connection, username, **values)
            user_store.add_audit(connection, "cli", "change user", detail=f"{username}: {values}")
            publish(connection, ChangeScope.AUTH)

    def list_users(self) -> list[UserRecord]:
        with self.database.connect() as connection:
            return user_store.list_users(connection)

    def remove_user(self, username: str, *, actor: str = "cli", address: str = "") -> None:
        with self.database.begin() as connection:
            user = user_store.get_user(connection, username)
            if user.is_admin and user_store.count_admins(connection) == 1:
                raise InvalidInput(f"{username!r} is the last administrator; make another first.")
            user_store.delete_user(connection, username)
            user_store.add_audit(connection, actor, "remove user", address=address, detail=username)
            publish(connection, ChangeScope.AUTH)

    def ensure_admin(self, password: str | None) -> str | None:
        """On first start: an ``admin`` user, with the given password or a generated one
        (returned, to be shown once). None when there is an administrator already."""
        with self.database.connect() as connection:
            if user_store.count_admins(connection):
                return None
        generated = password or secrets.token_urlsafe(18)
        try:
            self.add_user("admin", generated, is_admin=True)
        except IntegrityError:
            return None  # another replica, starting at the same time, made it
        return None if password else generated

    # -- tokens ----------------------------------------------------------------------------

    def create_token(
        self,
        index: IndexName | None,
        description: str = "",
        *,
        user: str | None = None,
        indexes: list[str] | None = None,
        actions: list[Action] | None = None,
        projects: list[str] | None = None,
        expires_at: datetime | None = None,
        actor: str = "cli",
        address: str = "",
    ) -> tuple[int, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        scopes: dict[str, Any] = {
            "actions": [a.value for a in actions or (Action.READ, Action.UPLOAD)]
        }
        if indexes:
            scopes["indexes"] = indexes
        if projects:
            scopes["projects"] = [project_pattern(p) for p in projects]
        with self.database.begin() as connection:
            index_id = get_index(connection, index).id if index else None
            for name in indexes or ():
                get_index(connection, name)
            user_id = user_store.get_user(connection, user).id if user else None
            token_id = insert_token(
                connection,
                hash_token(token),
                index_id,
                description,
                user_id=user_id,
                scopes=scopes,
                expires_at=expires_at,
            )
            user_store.add_audit(
                connection, actor, "create token", address=address, detail=f"token:{token_id}"
            )
        return token_id, token

    def list_tokens(self) -> list[TokenRecord]:
        with self.database.connect() as connection:
            return list_tokens(connection)

    def revoke_token(self, token_id: int, *, actor: str = "cli", address: str = "") -> None:
        with self.database.begin() as connection:
            revoke_token(connection, token_id)
            user_store.add_audit(
                connection, actor, "revoke token", address=address, detail=f"token:{token_id}"
            )
            publish(connection, ChangeScope.AUTH)

    # -- authentication --------------------------------------------------------------------

    def remembered(self, credentials: Credentials, *, address: str) -> Principal | None:
        """The principal of credentials checked a moment ago from the same client address,
        without touching the database (None when they must be checked)."""
        entry = self._verified.get(_memory_key(credentials, address))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return self._unexpired(entry[1])

    def authenticate(self, credentials: Credentials, *, address: str) -> Principal:
        """The principal the credentials name; Unauthenticated if they name nobody."""
        principal = self.remembered(credentials, address=address)
        if principal is not None:
            return principal
        epoch = self._epoch
        principal = self._check(credentials)
        if len(self._verified) > 10_000:
            self._verified.clear()
        if epoch == self._epoch:
            key = _memory_key(credentials, address)
            self._verified[key] = (time.monotonic() + VERIFIED_FOR, principal)
        return self._unexpired(principal)

    @staticmethod
    def _unexpired(principal: Principal) -> Principal:
        if principal.scope is not None and principal.scope.expired(datetime.now(UTC)):
            raise Unauthenticated(
                "This token has expired; make a new one with 'stilton token create'."
            )
        return principal

    def _check(self, credentials: Credentials) -> Principal:
        if credentials.is_token:
            return self._check_token(credentials)
        with self.database.connect() as connection:
            user = user_store.find_user(connection, credentials.username)
        if user is None:
            self._spend_like_a_check(credentials.password)  # no hint that the name is unknown
            raise Unauthenticated(INVALID_AUTH)
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            self.hasher.verify(user.password_hash, credentials.password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise Unauthenticated(INVALID_AUTH) from None
        return Principal(username=user.username, groups=user.groups, is_admin=user.is_admin)

    def certificate_user(self, subject: str) -> Principal:
        """The user a verified client certificate names: the CN of its subject (RFC 4514, or
        OpenSSL's "/CN=…/O=…" form) is the username."""
        username = common_name(subject)
        with self.database.connect() as connection:
            user = user_store.find_user(connection, username) if username else None
        if user is None:
            raise Unauthenticated(f"No user matches the client certificate {subject!r}.")
        return Principal(username=user.username, groups=user.groups, is_admin=user.is_admin)

    def _spend_like_a_check(self, password: str) -> None:
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            self.hasher.verify(self._dummy_hash, password)

    def _check_token(self, credentials: Credentials) -> Principal:
        with self.database.begin() as connection:
            record = find_active_token(connection, hash_token(credentials.password))
            if record is None:
                raise Unauthenticated(INVALID_AUTH)
            touch_token(connection, record.id)
            owner = user_store.find_user(connection, record.username) if record.username else None
        if owner is None and record.username is not None:
            raise Unauthenticated(INVALID_AUTH)
        return Principal(
            username=owner.username if owner else None,
            groups=owner.groups if owner else (),
            is_admin=owner.is_admin if owner else False,
            token_id=record.id,
            scope=scope_of(record),
        )

    # -- audit -----------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        address: str = "",
        index: str | None = None,
        project: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self.database.begin() as connection:
            user_store.add_audit(
                connection,
                actor,
                action,
                address=address,
                index=index,
                project=project,
                detail=detail,
            )

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        with self.database.connect() as connection:
            return user_store.list_audit(connection, limit)


def require(allowed: bool, principal: Principal, what: str) -> None:
    if not allowed:
        raise PermissionDenied(f"{principal.label} may not {what}.")
