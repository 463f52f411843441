"""``stilton migrate``, ``check-storage`` and ``migrate-storage``: the schema, the agreement of
rows and blobs, and moving an installation to other storage (PostgreSQL and a bucket)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, err, fail, guarded, out, settings_for


def migrate(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Bring the database's schema to this version of Stilton, then exit (for rolling
    upgrades: run once, then start the new replicas; 'serve' also migrates when needed)."""
    from stilton.runtime import open_database

    settings = guarded(lambda: settings_for(data_dir, config))
    database = open_database(settings)
    try:
        before = database.revision()
        guarded(database.migrate)
        after = database.revision()
    finally:
        database.dispose()
    if before == after:
        out.print(f"The schema is current (revision {after}).", highlight=False)
    else:
        out.print(f"Migrated the schema from {before or 'nothing'} to {after}.", highlight=False)


def check_storage(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Check that every file the database names is in the blob store, with its size."""
    from stilton.runtime import open_blobs, open_database
    from stilton.storage.consistency import check_consistency

    settings = guarded(lambda: settings_for(data_dir, config))
    database = open_database(settings)
    try:
        guarded(database.check_schema)
        blobs = guarded(lambda: open_blobs(settings))
        with database.connect() as connection:
            found = guarded(lambda: check_consistency(connection, blobs))
    finally:
        database.dispose()
    for problem in found.problems:
        err.print(problem, highlight=False)
    out.print(
        f"{found.checked} blob(s) checked, {len(found.problems)} problem(s),"
        f" {len(found.orphans)} orphan(s) (objects no row names; harmless).",
        highlight=False,
    )
    if not found.ok:
        raise typer.Exit(1)


def migrate_storage(
    to_database: Annotated[
        str,
        typer.Option(
            "--to-database",
            envvar="STILTON_TARGET_DATABASE_URL",
            help="The target database, e.g. postgresql+psycopg://stilton@db/stilton"
            " [env: STILTON_TARGET_DATABASE_URL].",
            show_default=False,
        ),
    ],
    to_blobs: Annotated[
        str,
        typer.Option(
            "--to-blobs",
            help="The target blob store: s3://bucket/prefix (endpoint and credentials from the"
            " s3_* settings or AWS_* variables).",
            show_default=False,
        ),
    ],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Move this installation's database and files (stop its servers first) into an empty
    database and a blob store; every file is verified on the way out and read back."""
    from stilton.runtime import open_blobs, open_database
    from stilton.storage.transfer import move_storage

    source = guarded(lambda: settings_for(data_dir, config))
    target = replace(source, database_url=to_database, blob_url=to_blobs)
    if (source.effective_database_url, source.blob_url) == (to_database, to_blobs):
        fail("The target is the installation itself.")
    source_db, target_db = open_database(source), open_database(target)
    try:
        guarded(source_db.check_schema)
        moved = guarded(
            lambda: move_storage(
                source_db, open_blobs(source), target_db, open_blobs(target),
                lambda line: err.print(line, highlight=False),
            )
        )  # fmt: skip
    finally:
        source_db.dispose()
        target_db.dispose()
    out.print(
        f"Moved {moved.rows} row(s) and {moved.blobs} verified file(s) to"
        f" {target_db.redacted_url()} and {to_blobs}.",
        highlight=False,
    )
