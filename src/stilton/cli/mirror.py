"""``stilton mirror add | run | list | status``: pre-synced mirrors of an upstream repository
in a hosted index. Argument parsing and printing only; the work is ``stilton.mirror``'s."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from stilton.cli.common import ConfigFile, DataDir, err, guarded, opened, out, progress_bar, table
from stilton.core.errors import Conflict, NotFound
from stilton.core.filenames import PackageType
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, parse_index_name
from stilton.core.upstream import UpstreamConfig, redact_url

if TYPE_CHECKING:
    # The mirror package, the runtime and storage are imported by the commands that use them,
    # so that `stilton --help` and every other command start without them.
    from rich.progress import Progress, TaskID

    from stilton.mirror.config import FileFilters, MirrorConfig
    from stilton.mirror.report import SyncReport
    from stilton.mirror.runs import MirrorHome
    from stilton.runtime import Runtime
    from stilton.storage.mirrors import MirrorRecord

mirror_app = typer.Typer(help="Mirrors: an upstream's projects, synced into a hosted index.")

Many = list[str] | None


def home_of(runtime: Runtime) -> MirrorHome:
    from stilton.mirror.runs import MirrorHome

    return MirrorHome.of(runtime.database, runtime.blobs, runtime.settings)


def _filters(
    latest: int | None,
    pre: bool,
    package_types: list[str],
    platform_tags: list[str],
    python_tags: list[str],
    max_size: int | None,
    allow: list[str],
    deny: list[str],
) -> FileFilters:
    from stilton.mirror.config import FileFilters

    return FileFilters.from_mapping(
        {
            "latest": latest,
            "prereleases": pre,
            "package_types": package_types or [t.value for t in PackageType],
            "platform_tags": platform_tags,
            "python_tags": python_tags,
            "max_size": max_size,
            "allow": allow,
            "deny": deny,
        }
    )


@mirror_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for the mirror.")],
    upstream: Annotated[str, typer.Option(help="The upstream's Simple API URL.")],
    index: Annotated[
        str, typer.Option("--index", "-i", help="Hosted index to fill (made if missing).")
    ],
    require: Annotated[
        Many, typer.Option("--require", "-r", help="A PEP 508 requirement (repeat).")
    ] = None,
    requirements: Annotated[
        Many, typer.Option(help="requirements.txt, pylock.toml, uv.lock or poetry.lock (repeat).")
    ] = None,
    with_deps: Annotated[
        bool, typer.Option("--with-deps", help="Take the dependency closure.")
    ] = False,
    python: Annotated[Many, typer.Option(help="Target Python, e.g. 3.11 (repeat).")] = None,
    platform: Annotated[
        Many, typer.Option(help="Target wheel platform tag, e.g. manylinux_2_17_x86_64 (repeat).")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Sync inside 'stilton serve' this often (30m, 1h, 1d).")
    ] = None,
    latest: Annotated[
        int | None, typer.Option(help="The newest N versions per requirement.")
    ] = None,
    pre: Annotated[bool, typer.Option("--pre", help="Take pre-releases too.")] = False,
    package_type: Annotated[
        Many, typer.Option(help="sdist or bdist_wheel (repeat; default both).")
    ] = None,
    platform_tag: Annotated[
        Many, typer.Option(help="Glob over wheel platform tags (repeat).")
    ] = None,
    python_tag: Annotated[
        Many, typer.Option(help="Glob over wheel python or ABI tags (repeat).")
    ] = None,
    max_size: Annotated[
        int | None, typer.Option(help="Skip files bigger than this many bytes.")
    ] = None,
    allow: Annotated[Many, typer.Option(help="Only projects matching this glob (repeat).")] = None,
    deny: Annotated[Many, typer.Option(help="Never projects matching this glob (repeat).")] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove files no longer selected.")
    ] = False,
    concurrency: Annotated[int, typer.Option(help="Upstream requests at once.")] = 8,
    file_hosts: Annotated[
        str | None,
        typer.Option(help="Hosts besides the upstream's serving its files, at any address: H1,H2."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Add a mirror of the upstream's projects the requirements select ('mirror run' syncs)."""
    from stilton.mirror.config import MirrorConfig, parse_duration

    texts = list(require or []) + guarded(lambda: _read_files(requirements or []))
    checked = guarded(
        lambda: MirrorConfig(
            upstream=UpstreamConfig.from_mapping({"url": upstream, "file_hosts": file_hosts}),
            requirements=tuple(texts),
            with_deps=with_deps,
            pythons=tuple(python or ()),
            platforms=tuple(platform or ()),
            filters=_filters(latest, pre, package_type or [], platform_tag or [],
                             python_tag or [], max_size, allow or [], deny or []),
            every=parse_duration(every) if every else None,
            concurrency=concurrency,
            prune=prune,
        )
    )  # fmt: skip
    target = guarded(lambda: parse_index_name(index))
    with opened(data_dir, config) as runtime:
        home = home_of(runtime)
        if any(record.name == name for record in home.list()):
            raise Conflict(f"A mirror named {name!r} already exists.")
        _create_index_if_missing(runtime, target)
        home.add(name, target, checked)
        out.print(
            f"Added mirror {name!r} of {_upstream(checked)} into index {index!r}"
            f" ({len(checked.requirements)} requirement(s)); 'stilton mirror run {name}' syncs it.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _upstream(mirror: MirrorConfig) -> str:
    """The upstream's URL for people: never its credentials."""
    upstream = mirror.upstream
    return redact_url(upstream.url) + (
        " (with credentials)" if upstream.username or upstream.token else ""
    )


def _read_files(paths: list[str]) -> list[str]:
    from stilton.mirror.requirements_files import read_requirements_file

    return [text for path in paths for text in read_requirements_file(Path(path))]


def _create_index_if_missing(runtime: Runtime, index: IndexName) -> None:
    try:
        runtime.get_index_record(index)
    except NotFound:
        runtime.create_index(index, IndexKind.HOSTED)
        out.print(f"Created the hosted index {index!r}.", highlight=False)


class ProgressBar:
    """A Rich progress bar per phase of a run (a ``SyncObserver``)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self.name = ""

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"[dim]{self.name}")
        self.name = name
        self.task = self.progress.add_task(name, total=total)

    def advance(self, detail: str = "") -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=1, description=f"{self.name} {detail}")


@mirror_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The mirror to sync.")],
    prune: Annotated[
        bool | None,
        typer.Option(
            "--prune/--no-prune", help="Remove files no longer selected (default: as added)."
        ),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Sync a mirror now; exit status 1 when anything could not be mirrored."""  # fmt: skip
    import anyio

    from stilton.mirror.runs import run_mirror

    with opened(data_dir, config) as runtime:
        home = home_of(runtime)
        with progress_bar() as progress:

            async def sync() -> SyncReport:
                return await run_mirror(home, name, ProgressBar(progress), prune=prune)

            began = time.monotonic()
            report = anyio.run(sync)
    _print_report(name, report, time.monotonic() - began)
    if report.problems:
        raise typer.Exit(1)


def _print_report(name: str, report: SyncReport, seconds: float) -> None:
    summary = table("mirror " + name, "count")
    for label, count in report.counts():
        summary.add_row(label, str(count))
    out.print(summary)
    for title, names in (
        ("removed upstream", report.removed),
        ("projects removed upstream", report.removed_projects),
        ("yanked", report.yanked),
        ("unyanked", report.unyanked),
        ("status", report.status_changes),
        ("pruned", report.pruned),
        ("no sha256 from the upstream", report.unverified),
    ):
        for item in names:
            out.print(f"{title}: {item}", highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    for problem in report.problems:
        err.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
    out.print(
        f"Mirror {name!r}: {report.status.value}. Took {seconds:.2f} s.",
        highlight=False,
        soft_wrap=True,
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _state(home: MirrorHome, record: MirrorRecord) -> str:
    if record.last_status == "running" and not home.is_running(record.name):
        return "interrupted (the next run continues)"
    return record.last_status or "never run"


@mirror_app.command("list")
def list_mirrors(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Mirrors, their upstream, index and last run."""
    from stilton.mirror.config import MirrorConfig, format_duration

    with opened(data_dir, config) as runtime:
        home = home_of(runtime)
        grid = table("name", "index", "upstream", "requirements", "every", "last run", "state")
        for record in home.list():
            mirror = MirrorConfig.from_mapping(record.config)
            cells = (
                record.name,
                record.index,
                _upstream(mirror),
                ", ".join(mirror.requirements) + (" + dependencies" if mirror.with_deps else ""),
                format_duration(mirror.every) if mirror.every else "-",
                _when(record.last_started),
                _state(home, record),
            )
            grid.add_row(*(escape(cell) for cell in cells))
        out.print(grid)


@mirror_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One mirror (default: all).")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """The last run of each mirror: when, how it went, its counts and problems."""
    from stilton.mirror.report import SyncReport

    with opened(data_dir, config) as runtime:
        home = home_of(runtime)
        records = [home.get(name)] if name else home.list()
        for record in records:
            out.print(
                f"[bold]{record.name}[/bold] → index {record.index}: {_state(home, record)};"
                f" started {_when(record.last_started)}, finished {_when(record.last_finished)}",
                highlight=False,
            )
            if record.last_report is not None:
                report = SyncReport.from_mapping(record.last_report)
                counts = ", ".join(f"{label} {count}" for label, count in report.counts() if count)
                out.print(f"  {counts or 'nothing to do'}", highlight=False, soft_wrap=True)
                for problem in report.problems[:20]:
                    out.print(f"  problem: {problem}", highlight=False, soft_wrap=True)
        if not records:
            out.print("No mirror yet; add one with 'stilton mirror add'.")
            return
        if any(r.last_status in ("errors", "failed") for r in records):
            raise typer.Exit(1)
