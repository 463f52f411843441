"""What every ``stilton`` command shares: options, the runtime, and one-line errors."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from stilton.core.errors import StiltonError
from stilton.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from stilton.runtime import Runtime

T = TypeVar("T")
# Output that is piped or logged is not a terminal: Rich would wrap it at 80 columns, breaking
# a password, a token or a URL in two. There, lines stay whole and tables may be wide.
PIPED_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    made = Console(stderr=stderr, soft_wrap=True)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = PIPED_WIDTH
    return made


out = console()
err = console(stderr=True)

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
    # Imported here: the runtime brings the database, the indexes and the web of imports they
    # need, which `--help` (and the server's supervising process) does not.
    from stilton.runtime import open_runtime

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


def progress_bar() -> Progress:
    """A progress bar on stderr (a description, a bar, done of total, the time taken), gone
    when done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=err, transient=True)


def table(*headers: str) -> Table:
    """A table whose cells wrap instead of being cut short on a narrow terminal."""
    grid = Table()
    for header in headers:
        grid.add_column(header, overflow="fold")
    return grid
