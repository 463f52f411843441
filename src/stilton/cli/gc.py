"""``stilton gc``: orphan blobs and a crash's spool files, listed (a dry run) or removed.

Exit status: 0 when nothing is left to remove (a dry run found nothing, or everything found
was removed), 3 when a dry run found something to remove, 1 on an error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, err, fail, guarded, out, settings_for, table

if TYPE_CHECKING:
    from stilton.storage.garbage import Collected, Garbage

FOUND = 3  # a dry run's exit status when there is something to remove
SHOWN = 20  # orphans listed one by one


def _grace(text: str) -> timedelta:
    from stilton.mirror.config import parse_duration

    return timedelta(0) if text.strip() in ("0", "0s") else timedelta(seconds=parse_duration(text))


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _show(garbage: Garbage, grace: str) -> None:
    grid = table("found", "count", "size")
    grid.add_row("blobs in the store", str(garbage.stored), "")
    grid.add_row("digests named by rows", str(garbage.referenced), "")
    grid.add_row(
        "orphan blobs (no row names them)", str(len(garbage.orphans)), _mib(garbage.orphan_bytes)
    )
    recent = sum(entry.size for entry in garbage.recent)
    grid.add_row(
        f"unnamed blobs written within {grace} (kept)", str(len(garbage.recent)), _mib(recent)
    )
    spool = f"{len(garbage.spool_files)}"
    grid.add_row("spool files left by a crash", spool, _mib(garbage.spool_bytes))
    out.print(grid)
    for entry in garbage.orphans[:SHOWN]:
        out.print(f"orphan: {entry.sha256} ({entry.size} bytes)", highlight=False)
    if len(garbage.orphans) > SHOWN:
        out.print(f"… and {len(garbage.orphans) - SHOWN} more orphan(s)", highlight=False)
    for path in garbage.spool_files:
        out.print(f"spool file: {path}", highlight=False)


def _report(done: Collected) -> None:
    out.print(
        f"Removed {len(done.blobs)} orphan blob(s) ({_mib(done.blob_bytes)}) and"
        f" {len(done.spool_files)} spool file(s).",
        highlight=False,
    )
    for sha256 in done.kept:
        out.print(f"kept {sha256}: a row names it now, or it was written again", highlight=False)


def gc(
    delete: Annotated[
        bool, typer.Option("--delete", help="Remove what is found (default: only list it).")
    ] = False,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            help="Orphans written more recently than this are kept: an upload may be about to"
            " name them (30m, 1h, 2d; 0 for none).",
        ),
    ] = "1h",
    force: Annotated[
        bool,
        typer.Option("--force", help="Delete even when the database names no blob at all."),
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Find blobs no row names and spool files no live process holds; with --delete, remove
    them. Safe while servers run. Exit status: 0 nothing left to remove, 3 a dry run found
    something, 1 an error."""
    from stilton.runtime import open_blobs, open_database
    from stilton.storage.garbage import collect_garbage, find_garbage

    settings = guarded(lambda: settings_for(data_dir, config))
    window = guarded(lambda: _grace(grace))
    database = open_database(settings)
    try:
        guarded(database.check_schema)
        blobs = guarded(lambda: open_blobs(settings))
        garbage = guarded(lambda: find_garbage(database, blobs, window))
        _show(garbage, grace)
        if garbage.empty:
            out.print("Nothing to remove.", highlight=False)
            return
        if not delete:
            err.print("A dry run: nothing was removed; run again with --delete.", highlight=False)
            raise typer.Exit(FOUND)
        if garbage.orphans and not garbage.referenced and not force:
            fail(
                f"The database names no blob at all, yet the store holds {garbage.stored}: is"
                " this the right database for this blob store? Pass --force to delete anyway."
            )
        _report(guarded(lambda: collect_garbage(database, blobs, garbage, window)))
    finally:
        database.dispose()
