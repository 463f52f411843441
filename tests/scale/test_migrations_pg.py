"""Migrations on PostgreSQL: from an empty database and from every earlier revision to head,
with the schema the queries expect; replicas starting at once migrate once; a database a newer
Stilton migrated is refused, by the server and by `stilton migrate`."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from stilton.core.errors import StorageError
from stilton.storage.database import HEAD_REVISION, Database, _alembic_config
from stilton.storage.schema import metadata
from tests.support.postgres import PostgresServer
from tests.support.server import ServerError, StiltonServer, stilton_command

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(_alembic_config()).walk_revisions()))
]


def _assert_schema_matches(database: Database) -> None:
    inspector = inspect(database.engine)
    for table in metadata.sorted_tables:
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == {column.name for column in table.columns}, table.name


def test_an_empty_database_is_migrated_to_head(postgres_server: PostgresServer) -> None:
    database = Database(postgres_server.create_database())
    try:
        database.migrate()
        assert database.revision() == HEAD_REVISION
        database.migrate()  # a second start is a no-op
        _assert_schema_matches(database)
    finally:
        database.dispose()


@pytest.mark.parametrize("start", REVISIONS[:-1])
def test_every_earlier_revision_is_migrated_to_head(
    postgres_server: PostgresServer, start: str
) -> None:
    database = Database(postgres_server.create_database())
    try:
        config = _alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, start)
        assert database.revision() == start
        database.migrate()
        assert database.revision() == HEAD_REVISION
        _assert_schema_matches(database)
    finally:
        database.dispose()


MIGRATE = (
    "import sys; from stilton.storage.database import Database; Database(sys.argv[1]).migrate()"
)


def test_replicas_starting_at_once_migrate_once(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", MIGRATE, url], capture_output=True, text=True, timeout=120
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: start(), range(4)))
    assert [r.returncode for r in results] == [0] * 4, [r.stderr[-2000:] for r in results]
    database = Database(url)
    try:
        assert database.revision() == HEAD_REVISION
        with database.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        database.dispose()


def _from_the_future(url: str) -> None:
    database = Database(url)
    try:
        database.migrate()
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'future9'"))
    finally:
        database.dispose()


def test_a_newer_schema_is_refused(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = postgres_server.create_database()
    _from_the_future(url)
    database = Database(url)
    with pytest.raises(StorageError, match="newer Stilton migrated it"):
        database.migrate()
    database.dispose()
    environ = {"STILTON_DATABASE_URL": url, "STILTON_DATA_DIR": str(tmp_path / "cli")}
    completed = subprocess.run(
        [*stilton_command(), "migrate"], capture_output=True, text=True, env=environ, timeout=60
    )
    assert completed.returncode == 1
    assert "'future9'" in completed.stderr and "newer Stilton" in completed.stderr
    server = StiltonServer(tmp_path / "server", settings={"database_url": url}, ready_timeout=20)
    with pytest.raises(ServerError) as refused:
        server.start()
    assert "newer Stilton migrated it" in refused.value.log


def test_stilton_migrate_says_what_it_did(postgres_server: PostgresServer, tmp_path: Path) -> None:
    environ = {
        "STILTON_DATABASE_URL": postgres_server.create_database(),
        "STILTON_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    first = subprocess.run(
        [*stilton_command(), "migrate"], capture_output=True, text=True, env=environ, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert f"to {HEAD_REVISION}" in first.stdout
    again = subprocess.run(
        [*stilton_command(), "migrate"], capture_output=True, text=True, env=environ, timeout=60
    )
    assert "is current" in again.stdout
