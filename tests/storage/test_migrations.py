"""Migrations: the known head revision is Alembic's, a new database is migrated to it, and the
schema Alembic builds matches the tables the queries are written against."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from stilton.storage.database import HEAD_REVISION, MIGRATIONS, Database
from stilton.storage.schema import metadata


def test_head_revision_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_the_queries(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.migrate()
    assert database.revision() == HEAD_REVISION
    database.migrate()  # a second start is a no-op
    inspector = inspect(database.engine)
    for table in metadata.sorted_tables:
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == {column.name for column in table.columns}, table.name
    database.dispose()
