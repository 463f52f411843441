"""``stilton backup DIR`` and ``stilton restore DIR --data-dir NEW``: a consistent copy of a
single machine's installation while it runs, and a new data directory rebuilt and verified
from one. PostgreSQL and buckets have backups of their own (pg_dump, bucket versioning)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, err, fail, guarded, out, settings_for

if TYPE_CHECKING:
    from rich.progress import Progress

    from stilton.settings import Settings

NOT_LOCAL = (
    "stilton backup copies a single machine's SQLite database and blob directory; this"
    " installation keeps {what}. Back that up with the tools made for it: pg_dump (or your"
    " PostgreSQL service's snapshots) for the database, and versioning (or replication) on the"
    " bucket; see 'Backup and restore' in the README."
)


def _transfer_bar() -> Progress:
    """Bytes done of the total, the speed and the time taken, on stderr; gone when done."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True))
    return Progress(
        *columns, TransferSpeedColumn(), TimeElapsedColumn(), console=err, transient=True
    )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _local_only(settings: Settings) -> None:
    kept = [
        what
        for what, used in (
            ("its database in PostgreSQL", not settings.is_sqlite),
            ("its files in a bucket", bool(settings.blob_url)),
        )
        if used
    ]
    if kept:
        fail(NOT_LOCAL.format(what=" and ".join(kept)))


def backup(
    target: Annotated[
        Path, typer.Argument(help="A new or empty directory, or an earlier backup to update.")
    ],
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash", help="Hash the files TARGET holds already too; copy damaged ones again."
        ),
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Copy the database (SQLite's online backup) and then every file it names into TARGET,
    with a manifest of their sha256; safe while servers run. Files already in TARGET are not
    copied again."""
    from stilton.runtime import open_blobs, open_database
    from stilton.storage.backup import make_backup

    settings = guarded(lambda: settings_for(data_dir, config))
    _local_only(settings)
    database = open_database(settings)
    try:
        guarded(database.check_schema)
    finally:
        database.dispose()
    blobs = guarded(lambda: open_blobs(settings))
    with _transfer_bar() as progress:
        task = progress.add_task("copying files", total=None)
        report = guarded(
            lambda: make_backup(
                settings.sqlite_path, blobs, target,
                lambda total: progress.update(task, total=total),
                lambda size: progress.update(task, advance=size),
                rehash=rehash,
            )
        )  # fmt: skip
    manifest = report.manifest
    out.print(
        f"Backed up into {target}: the database ({_mib(manifest.database_size)}, schema"
        f" {manifest.schema_revision}) and {len(manifest.blobs)} file(s)"
        f" ({_mib(sum(manifest.blobs.values()))}); {report.copied} copied"
        f" ({_mib(report.copied_bytes)}), {report.present} there already."
        f" {report.seconds:.1f} s, {report.mib_per_second:.0f} MiB/s.",
        highlight=False,
    )
    if report.repaired:
        out.print(
            f"{report.repaired} file(s) in {target} were damaged, and were copied again.",
            highlight=False,
        )
    if report.dropped:
        out.print(
            f"{len(report.dropped)} proxy-cached file(s) evicted while the backup ran are left"
            " out (a restored proxy fetches them again).",
            highlight=False,
        )


def restore(
    source: Annotated[Path, typer.Argument(help="A directory 'stilton backup' wrote.")],
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", help="The data directory to make: new, or empty."),
    ],
) -> None:
    """Rebuild a data directory from a backup: every file is hashed as it is copied (a
    damaged backup is refused, naming the file), the database is checked, and the result is
    verified before Stilton is pointed at it."""
    from stilton.mirror.verify import verify_store
    from stilton.runtime import open_blobs, open_database
    from stilton.settings import Settings
    from stilton.storage.restore import restore_backup

    with _transfer_bar() as progress:
        task = progress.add_task("restoring", total=None)
        report = guarded(
            lambda: restore_backup(
                source, data_dir,
                lambda total: progress.update(task, total=total),
                lambda size: progress.update(task, advance=size),
            )
        )  # fmt: skip
    settings = guarded(lambda: Settings.from_env({}, {"data_dir": data_dir}))
    database = open_database(settings)
    try:
        guarded(database.migrate)  # a backup of an older Stilton is brought up to date
        checked = guarded(lambda: verify_store(database, open_blobs(settings)))
    finally:
        database.dispose()
    for problem in checked.problems:
        err.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
    if checked.problems:
        fail(f"The restored {data_dir} does not verify: {len(checked.problems)} problem(s).")
    out.print(
        f"Restored the backup of {report.manifest.created:%Y-%m-%d %H:%M:%S} UTC into"
        f" {data_dir}: {report.blobs} file(s), {_mib(report.bytes)}, every one re-hashed"
        f" ({checked.blobs} verified, 0 problems). Start it: stilton serve --data-dir"
        f" {data_dir}",
        highlight=False,
        soft_wrap=True,
    )
