"""INSERT statements that say what to do when the row exists (ON CONFLICT), in the dialect of
the connection's backend. Only that backend's dialect is imported: on SQLite, importing
PostgreSQL's would add some 25 ms to every command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Table

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def conflict_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that can do nothing or update on a conflict."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
