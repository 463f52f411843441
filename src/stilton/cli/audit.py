"""``stilton audit``: reports an operator asks for, e.g. dependency-confusion collisions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from stilton.cli.common import ConfigFile, DataDir, opened, out, table
from stilton.core.model import IndexKind

if TYPE_CHECKING:
    from stilton.indexes.audit import Collision
    from stilton.indexes.group import GroupIndex

audit_app = typer.Typer(help="Audit reports.", no_args_is_help=True)


@audit_app.command("collisions")
def audit_collisions(
    group: Annotated[str | None, typer.Argument(help="One group (default: every group).")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Names held by a hosted member that also exist upstream, and which member each group
    serves them from. This asks the upstreams about every hosted name."""
    import anyio  # imported here: most commands need no event loop

    with opened(data_dir, config) as runtime:
        names = (
            [group]
            if group
            else [r.name for r in runtime.list_indexes() if r.kind is IndexKind.GROUP]
        )
        grid = table("group", "project", "hosted in", "also upstream in", "served from", "rule")
        found = anyio.run(_collisions, [runtime.group(name) for name in names])
        for c in found:
            upstream = ", ".join(c.upstream_in + tuple(f"{u} (unreachable)" for u in c.unchecked))
            grid.add_row(
                c.group,
                c.project,
                ", ".join(c.hosted_in),
                upstream,
                c.served_from or "-",
                c.rule or "",
            )
        out.print(grid)
        out.print(f"{len(found)} collision(s).", highlight=False)


async def _collisions(groups: list[GroupIndex]) -> list[Collision]:
    """Every group's collisions, in one event loop (the proxies' connections belong to it)."""
    from stilton.indexes.audit import find_collisions

    found: list[Collision] = []
    for group in groups:
        try:
            found.extend(await find_collisions(group))
        finally:
            await group.aclose()
    return found


@audit_app.command("log")
def audit_log(
    limit: Annotated[int, typer.Option("--limit", help="How many entries, newest first.")] = 50,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Uploads, deletes, yanks, permission changes and failed logins: who, when, from where."""
    with opened(data_dir, config) as runtime:
        grid = table("when", "who", "from", "what", "index", "project", "detail")
        for entry in runtime.auth.audit_log(limit):
            grid.add_row(
                entry.at.strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor,
                entry.address,
                entry.action,
                entry.index or "",
                entry.project or "",
                escape(entry.detail or ""),
            )
        out.print(grid)
