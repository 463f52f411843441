"""``stilton export``, ``stilton import-bundle`` and ``stilton verify``: air-gap bundles of a
hosted index, and the check that the database and the blob store agree."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stilton.cli.common import (
    ConfigFile,
    DataDir,
    err,
    fail,
    guarded,
    opened,
    out,
    progress_bar,
)
from stilton.core.errors import InvalidInput, NotFound
from stilton.core.model import IndexKind
from stilton.core.names import parse_index_name

if TYPE_CHECKING:
    # Imported by the commands that use them: `stilton --help` and the other commands start
    # without the mirror package, the indexes and the runtime.
    from stilton.indexes.hosted import HostedIndex
    from stilton.runtime import Runtime

bundle_app = typer.Typer()


def parse_since(text: str) -> datetime:
    """A date (``2026-01-31``) or an ISO 8601 time; without a zone, UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--since takes a date like 2026-01-31 or an ISO time, not {text!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bundle_app.command("export")
def export(
    index: Annotated[str, typer.Argument(help="The hosted index (or mirror's index) to export.")],
    destination: Annotated[Path, typer.Argument(help="A new directory, or a file ending .tar.")],
    since: Annotated[
        str | None, typer.Option(help="Only files added since this date (incremental).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Write INDEX as a self-contained bundle: files, metadata, manifest, static simple/ tree."""
    from stilton.mirror.bundle_export import export_index

    moment = guarded(lambda: parse_since(since)) if since else None
    with opened(data_dir, config) as runtime, progress_bar() as progress:
        task = progress.add_task("exporting", total=None)
        report = export_index(
            runtime.database, runtime.blobs, index, destination, moment,
            lambda name: progress.update(task, advance=1, description=f"exporting {name}"),
        )  # fmt: skip
    out.print(
        f"Exported {report.files} file(s), {report.bytes / 2**20:.1f} MiB, of index {index!r}"
        f" to {report.path}.\nmanifest sha256: {report.manifest_sha256}",
        highlight=False,
        soft_wrap=True,
    )


@bundle_app.command("import-bundle")
def import_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory or .tar from export.")],
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="Hosted index (default: the bundle's).")
    ] = None,
    manifest_sha256: Annotated[
        str | None,
        typer.Option(help="The sha256 export printed; the manifest must have it."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Check every hash of a bundle, then load it into a hosted index; safe to repeat."""
    from stilton.mirror.bundle_import import import_bundle, open_bundle, read_manifest

    reader = guarded(lambda: open_bundle(bundle))
    try:
        with opened(data_dir, config) as runtime, progress_bar() as progress:
            manifest = read_manifest(reader, manifest_sha256)
            target = index or manifest.index
            hosted = _hosted(runtime, target)
            task = progress.add_task("checking", total=len(manifest.files) * 2)
            report = import_bundle(
                reader, manifest, hosted,
                lambda name: progress.update(task, advance=1, description=name),
            )  # fmt: skip
    finally:
        reader.close()
    out.print(
        f"Imported {len(report.added)} file(s) into index {target!r}; {report.present} already"
        f" present, {len(report.restored)} restored, {len(report.yanks)} yank(s) set.",
        highlight=False,
    )


def _hosted(runtime: Runtime, name: str) -> HostedIndex:
    checked = parse_index_name(name)
    try:
        runtime.get_index_record(checked)
    except NotFound:
        runtime.create_index(checked, IndexKind.HOSTED)
        out.print(f"Created the hosted index {checked!r}.", highlight=False)
    return runtime.hosted(checked)


@bundle_app.command("verify")
def verify(
    index: Annotated[str | None, typer.Argument(help="One index (default: every one).")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Re-hash every stored file and check that the database and the blobs agree."""
    from stilton.mirror.verify import verify_store

    with opened(data_dir, config) as runtime, progress_bar() as progress:
        task = progress.add_task("verifying", total=None)
        report = verify_store(
            runtime.database, runtime.blobs, index,
            lambda total: progress.update(task, total=total),
            lambda: progress.update(task, advance=1),
        )  # fmt: skip
    for problem in report.problems:
        err.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
    for name in report.unreferenced[:20]:
        out.print(
            f"unreferenced blob (a crash's leftover, harmless): {name}",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"Verified {report.blobs} blob(s) ({report.references} reference(s)),"
        f" {report.bytes / 2**20:.1f} MiB in {report.seconds:.2f} s"
        f" ({report.files_per_second:.0f} files/s, {report.mib_per_second:.0f} MiB/s):"
        f" {len(report.problems)} problem(s), {len(report.unreferenced)} unreferenced blob(s).",
        highlight=False,
        soft_wrap=True,
    )
    if report.problems:
        fail(f"{len(report.problems)} problem(s) found; see above.")
