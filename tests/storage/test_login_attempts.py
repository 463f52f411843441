"""The brute-force guard's stored counts: made on first use, kept per address, forgotten on a
success unless the address is locked out, and pruned once both its window and its lockout are
over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stilton.storage.database import Database
from stilton.storage.guard import (
    ADDRESS_CHARS,
    AddressCounts,
    find_counts,
    forget_address,
    hold_counts,
    prune,
    save_counts,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


def stored(database: Database, address: str) -> AddressCounts | None:
    with database.connect() as connection:
        return find_counts(connection, address)


def test_counts_are_made_on_first_use_and_kept_per_address(database: Database) -> None:
    with database.begin() as connection:
        assert hold_counts(connection, "10.0.0.1", NOW) == AddressCounts(0, NOW)
        save_counts(connection, "10.0.0.1", AddressCounts(3, NOW))
        assert hold_counts(connection, "10.0.0.1", NOW + MINUTE) == AddressCounts(3, NOW)
    assert stored(database, "10.0.0.1") == AddressCounts(3, NOW)
    assert stored(database, "10.0.0.2") is None


def test_a_success_forgets_the_counts_unless_locked_out(database: Database) -> None:
    with database.begin() as connection:
        hold_counts(connection, "10.0.0.1", NOW)
        hold_counts(connection, "10.0.0.2", NOW)
        save_counts(connection, "10.0.0.2", AddressCounts(5, NOW, NOW + MINUTE))
        forget_address(connection, "10.0.0.1", NOW)
        forget_address(connection, "10.0.0.2", NOW)
    assert stored(database, "10.0.0.1") is None
    assert stored(database, "10.0.0.2") == AddressCounts(5, NOW, NOW + MINUTE)


def test_prune_removes_only_addresses_whose_window_and_lockout_are_over(
    database: Database,
) -> None:
    rows = {
        "quiet": AddressCounts(2, NOW - 2 * MINUTE),
        "counting": AddressCounts(2, NOW),
        "locked": AddressCounts(10, NOW - 2 * MINUTE, NOW + MINUTE),
        "was-locked": AddressCounts(10, NOW - 3 * MINUTE, NOW - MINUTE),
    }
    with database.begin() as connection:
        for address, counts in rows.items():
            hold_counts(connection, address, NOW)
            save_counts(connection, address, counts)
        assert prune(connection, NOW - MINUTE, NOW) == 2
    assert [a for a in rows if stored(database, a) is not None] == ["counting", "locked"]


def test_an_overlong_address_is_cut_to_the_column(database: Database) -> None:
    address = "x" * (ADDRESS_CHARS + 30)
    with database.begin() as connection:
        hold_counts(connection, address, NOW)
        save_counts(connection, address, AddressCounts(1, NOW))
    assert stored(database, address[:ADDRESS_CHARS]) == AddressCounts(1, NOW)
