"""The ``stilton`` command: argument parsing only; the work is done by the runtime and indexes.

Every command takes ``--data-dir`` (and ``--config``) and works while a server runs on the same
directory. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from stilton.core.errors import StiltonError
from stilton.core.model import IndexKind
from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings

app = typer.Typer(
    name="stilton",
    help="A private Python package index, caching proxy and mirror in one process.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
index_app = typer.Typer(help="Create and list indexes.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke upload tokens.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(token_app, name="token")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [env: STILTON_DATA_DIR].", show_default=False),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file [env: STILTON_CONFIG].", show_default=False),
]
IndexOption = Annotated[str, typer.Option("--index", "-i", help="The index to act on.")]


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def settings_for(data_dir: Path | None, config: Path | None, **overrides: Any) -> Settings:
    return Settings.from_env(os.environ, {"data_dir": data_dir, "config": config, **overrides})


@contextmanager
def opened(data_dir: Path | None, config: Path | None) -> Iterator[Runtime]:
    """The runtime for one command; a StiltonError becomes one line and exit status 1."""
    runtime = None
    try:
        runtime = open_runtime(settings_for(data_dir, config))
        yield runtime
    except StiltonError as exc:
        fail(exc.message)
    finally:
        if runtime is not None:
            runtime.close()


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except StiltonError as exc:
        fail(exc.message)
        raise  # unreachable: fail() exits


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env: STILTON_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env: STILTON_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [env: STILTON_WORKERS].")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Run the server (embedded defaults: SQLite and files under the data directory)."""
    from granian import Granian
    from granian.constants import Interfaces

    settings = guarded(
        lambda: settings_for(data_dir, config, host=host, port=port, workers=workers)
    )
    guarded(lambda: open_runtime(settings).close())  # migrate and create the default layout once
    # Workers build their app from the environment (Granian's factory runs in each process).
    os.environ.update(
        {
            "STILTON_DATA_DIR": str(settings.data_dir),
            "STILTON_HOST": settings.host,
            "STILTON_PORT": str(settings.port),
        }
    )
    if config is not None:
        os.environ["STILTON_CONFIG"] = str(config)
    err.print(
        f"Stilton serving {settings.data_dir} on http://{settings.host}:{settings.port}/"
        f"  (pip install --index-url http://{settings.host}:{settings.port}/simple/ ...)",
        highlight=False,
    )
    Granian(
        "stilton.web.app:app_from_environ",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
    ).serve()


@index_app.command("create")
def index_create(
    name: Annotated[str, typer.Argument(help="Index name (a lowercase slug).")],
    kind: Annotated[IndexKind, typer.Option("--kind", help="Index kind.")] = IndexKind.HOSTED,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an index."""
    with opened(data_dir, config) as runtime:
        record = runtime.create_index(name, kind)
        out.print(f"Created {record.kind} index {record.name!r}: /{record.name}/simple/")


@index_app.command("list")
def index_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List indexes."""
    with opened(data_dir, config) as runtime:
        table = Table("name", "kind", "simple URL path")
        for record in runtime.list_indexes():
            table.add_row(record.name, record.kind.value, f"/{record.name}/simple/")
        out.print(table)


@token_app.command("create")
def token_create(
    index: Annotated[
        str | None,
        typer.Option("--index", "-i", help="Index the token may upload to (default: every index)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the token is for.")] = "",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an upload token; it is printed once, alone on the last line."""
    with opened(data_dir, config) as runtime:
        token_id, token = runtime.tokens.create(
            runtime.get_index_record(index).name if index else None, description
        )
        out.print(
            f"Token {token_id} for {'index ' + repr(index) if index else 'every index'}; use it"
            " as the password of user '__token__'. It is not shown again:",
            highlight=False,
            soft_wrap=True,
        )
        out.file.flush()
        print(token, flush=True)


@token_app.command("list")
def token_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List tokens (never their secrets)."""
    with opened(data_dir, config) as runtime:
        table = Table("id", "index", "description", "created", "last used", "state")
        for record in runtime.tokens.list():
            table.add_row(
                str(record.id),
                record.index or "(every index)",
                record.description,
                record.created_at.strftime("%Y-%m-%d %H:%M"),
                record.last_used_at.strftime("%Y-%m-%d %H:%M") if record.last_used_at else "never",
                "revoked" if record.revoked else "active",
            )
        out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see 'token list').")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a token."""
    with opened(data_dir, config) as runtime:
        runtime.tokens.revoke(token_id)
        out.print(f"Revoked token {token_id}.")


@app.command("import")
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


@app.command()
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


@app.command()
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


@app.command()
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


def main() -> None:
    app()
