"""Queries over the brute-force guard's counts (``login_attempts``): one row per client address,
read and written inside the caller's write transaction so that every worker and replica counts
the same attempts. The rules (how many, for how long) are the guard's, not these queries'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from stilton.storage.schema import login_attempts
from stilton.storage.upserts import conflict_insert

ADDRESS_CHARS = 64  # the column's width; longer "addresses" (never a real one) are cut


@dataclass(frozen=True, slots=True)
class AddressCounts:
    """What the guard knows of one address: the checks it began since ``window_started``, and
    the end of its lockout (None: not locked out)."""

    attempts: int
    window_started: datetime
    locked_until: datetime | None = None


def address_key(address: str) -> str:
    return address[:ADDRESS_CHARS]


def find_counts(connection: Connection, address: str) -> AddressCounts | None:
    row = connection.execute(
        select(login_attempts).where(login_attempts.c.address == address_key(address))
    ).first()
    return AddressCounts(row.attempts, row.window_started, row.locked_until) if row else None


def hold_counts(connection: Connection, address: str, now: datetime) -> AddressCounts:
    """The address's counts, its row made if missing and locked until the transaction ends
    (PostgreSQL: FOR UPDATE; SQLite: the write transaction holds the database's lock)."""
    key = address_key(address)
    connection.execute(
        conflict_insert(connection, login_attempts)
        .values(address=key, attempts=0, window_started=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=[login_attempts.c.address])
    )
    row = connection.execute(
        select(login_attempts).where(login_attempts.c.address == key).with_for_update()
    ).one()
    return AddressCounts(row.attempts, row.window_started, row.locked_until)


def save_counts(connection: Connection, address: str, counts: AddressCounts) -> None:
    connection.execute(
        update(login_attempts)
        .where(login_attempts.c.address == address_key(address))
        .values(
            attempts=counts.attempts,
            window_started=counts.window_started,
            locked_until=counts.locked_until,
        )
    )


def forget_address(connection: Connection, address: str, now: datetime) -> None:
    """Drop the address's counts, unless it is locked out (a lockout runs its course)."""
    connection.execute(
        delete(login_attempts).where(
            login_attempts.c.address == address_key(address), _not_locked(now)
        )
    )


def prune(connection: Connection, window_started_before: datetime, now: datetime) -> int:
    """Remove the rows of addresses whose window and lockout are both over; how many."""
    result = connection.execute(
        delete(login_attempts).where(
            login_attempts.c.window_started < window_started_before, _not_locked(now)
        )
    )
    return int(result.rowcount)


def _not_locked(now: datetime) -> Any:
    return or_(login_attempts.c.locked_until.is_(None), login_attempts.c.locked_until <= now)
