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


def test_layout_version_constant_is_the_newest_layout_entry(tmp_path: Path) -> None:
    from stilton.runtime import LAYOUT_VERSION, _default_layout
    from stilton.settings import Settings

    settings = Settings.from_env({}, {"data_dir": tmp_path, "default_upstream": "http://x/simple/"})
    assert max(version for version, *_ in _default_layout(settings)) == LAYOUT_VERSION


def _upgrade(database: Database, revision: str) -> None:
    from alembic import command

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_a_proxys_pages_survive_the_move_to_one_document_per_project(tmp_path: Path) -> None:
    """Revision 0005 converts the rows of upstream files into documents: an offline proxy
    keeps serving every page and digest it had."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from stilton.core.names import ProjectName
    from stilton.storage import upstream_cache
    from stilton.storage.catalog import get_index
    from stilton.upstream.compact import decode_page

    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _upgrade(database, "0004")
    now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    digest, computed = "a" * 64, "b" * 64
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO indexes (id, name, kind, config, generation, created_at)"
                " VALUES (7, 'up', 'proxy', '{}', 1, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO upstream_projects (id, index_id, name, etag, serial, status,"
                " versions, fetched_at, checked_at) VALUES (3, 7, 'demo', '\"e\"', 42, 'active',"
                " '[\"1.0\"]', :now, :now)"
            ),
            {"now": now},
        )
        for filename, sha256, metadata in (
            ("demo-1.0-py3-none-any.whl", digest, computed),
            ("demo-1.0.tar.gz", computed, None),
        ):
            connection.execute(
                text(
                    "INSERT INTO upstream_files (project_id, index_id, filename, url, version,"
                    " sha256, size, upload_time, yanked, yanked_reason, upstream_metadata,"
                    " metadata_sha256, metadata_size) VALUES (3, 7, :f, :u, '1.0', :s, 10, :now,"
                    " 1, 'bad', 1, :m, 5)"
                ),
                {"f": filename, "u": f"http://127.0.0.1/{filename}", "s": sha256, "m": metadata,
                 "now": now},
            )  # fmt: skip
        connection.execute(
            text(
                "INSERT INTO cached_files (index_id, sha256, size, created_at, last_access)"
                " VALUES (7, :s, 10, :now, :now)"
            ),
            {"s": computed, "now": now},
        )
    database.migrate()
    with database.connect() as connection:
        index = get_index(connection, "up")
        stored = upstream_cache.find_page(connection, index, ProjectName("demo"))
        facts = upstream_cache.find_facts(connection, index, ProjectName("demo"))
    assert stored is not None
    assert (stored.etag, stored.serial, stored.files) == ('"e"', 42, 2)
    page = decode_page(stored.document)
    assert [(f.filename, f.sha256, f.yanked_reason) for f in page.files] == [
        ("demo-1.0-py3-none-any.whl", digest, "bad"),
        ("demo-1.0.tar.gz", computed, "bad"),
    ]
    assert page.files[0].upload_time == datetime(2026, 1, 2, tzinfo=UTC)
    assert {name: (f.sha256, f.metadata_sha256) for name, f in facts.items()} == {
        "demo-1.0-py3-none-any.whl": (digest, computed),  # metadata learnt
        "demo-1.0.tar.gz": (computed, None),  # a file kept: its digest may have been computed
    }
    database.dispose()
