"""Commands over a hosted index's files: import, yank, unyank and delete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, IndexOption, err, fail, opened, out

packages_app = typer.Typer()


@packages_app.command("import")
def import_files(
    directory: Annotated[
        Path, typer.Argument(help="Directory searched (recursively) for wheels and sdists.")
    ],
    index: IndexOption = "local",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Load every wheel and sdist under DIRECTORY into a hosted index; safe to run again."""
    from stilton.cli.importer import import_directory

    if not directory.is_dir():
        fail(f"{directory} is not a directory.")
    with opened(data_dir, config) as runtime:
        report = import_directory(runtime.hosted(index), directory)
        for path, problem in report.failed:
            err.print(f"[red]failed[/red] {path}: {problem}", highlight=False, soft_wrap=True)
        out.print(
            f"Imported {report.created} file(s), {report.unchanged} already present,"
            f" {len(report.failed)} failed, into index {index!r}.",
            highlight=False,
        )
        if report.failed:
            raise typer.Exit(1)


def _change(verb: str, filenames: list[str]) -> None:
    for filename in filenames:
        out.print(f"{verb} {filename}", highlight=False)


@packages_app.command()
def yank(
    project: Annotated[str, typer.Argument(help="Project name.")],
    version: Annotated[str | None, typer.Argument(help="Release to yank (all its files).")] = None,
    file: Annotated[str | None, typer.Option("--file", help="Yank only this file.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (shown to installers).")] = None,
    index: IndexOption = "local",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Yank a release or one file (PEP 592): installers skip it unless pinned exactly."""
    if version is None and file is None:
        fail("Name a release (VERSION) or a file (--file) to yank.")
    with opened(data_dir, config) as runtime:
        names = runtime.hosted(index).set_yanked(
            project, version, file, yanked=True, reason=reason, actor="cli"
        )
        _change("yanked", names)


@packages_app.command()
def unyank(
    project: Annotated[str, typer.Argument(help="Project name.")],
    version: Annotated[str | None, typer.Argument(help="Release to unyank.")] = None,
    file: Annotated[str | None, typer.Option("--file", help="Unyank only this file.")] = None,
    index: IndexOption = "local",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Undo a yank."""
    if version is None and file is None:
        fail("Name a release (VERSION) or a file (--file) to unyank.")
    with opened(data_dir, config) as runtime:
        names = runtime.hosted(index).set_yanked(project, version, file, yanked=False, actor="cli")
        _change("unyanked", names)


@packages_app.command()
def delete(
    project: Annotated[str, typer.Argument(help="Project name.")],
    version: Annotated[
        str | None, typer.Argument(help="Release to delete (all its files).")
    ] = None,
    file: Annotated[str | None, typer.Option("--file", help="Delete only this file.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    index: IndexOption = "local",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Delete a release or one file. Its filenames can never be uploaded again."""
    if version is None and file is None:
        fail("Name a release (VERSION) or a file (--file) to delete.")
    what = file or f"{project} {version}"
    if not yes:
        if not sys.stdin.isatty():
            fail(f"Deleting {what} cannot be undone; pass --yes to confirm.")
        typer.confirm(f"Delete {what}? Its filenames can never be reused.", abort=True)
    with opened(data_dir, config) as runtime:
        names = runtime.hosted(index).delete(project, version, file, actor="cli")
        _change("deleted", names)
