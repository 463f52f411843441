"""The database wrapper: a write that need not be durable (a proxy's cache) never lowers the
durability of the writes after it, whether it committed or failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from stilton.storage.database import Database

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def synchronous(database: Database, *, durable: bool) -> int:
    with database.begin(durable=durable) as connection:
        value = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert isinstance(value, int)
    return value


def _fail_while_not_durable(database: Database) -> None:
    with database.begin(durable=False):
        raise ZeroDivisionError


def test_a_cache_write_does_not_lower_the_next_writes_durability(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.migrate()
    assert synchronous(database, durable=True) == FULL
    assert synchronous(database, durable=False) == NORMAL
    assert synchronous(database, durable=True) == FULL
    with pytest.raises(ZeroDivisionError):
        _fail_while_not_durable(database)
    assert synchronous(database, durable=True) == FULL
    database.dispose()
