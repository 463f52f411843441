"""``stilton cache``: what proxy indexes keep, and pruning it to a size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stilton.cli.common import ConfigFile, DataDir, opened, out, table
from stilton.core.model import IndexKind

if TYPE_CHECKING:
    from stilton.indexes.proxy import ProxyIndex
    from stilton.runtime import Runtime

cache_app = typer.Typer(help="Inspect and prune the caches of proxy indexes.", no_args_is_help=True)


def _proxies(runtime: Runtime, index: str | None) -> list[ProxyIndex]:
    records = [r for r in runtime.list_indexes() if r.kind is IndexKind.PROXY]
    if index is not None:
        records = [runtime.get_index_record(index)]
    return [runtime.proxy(record) for record in records]


@cache_app.command("stats")
def cache_stats(
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="One proxy index (default: all).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Files kept by each proxy index, their total size, and the cap."""
    with opened(data_dir, config) as runtime:
        grid = table("index", "files", "bytes", "cap")
        for proxy in _proxies(runtime, index):
            count, size = proxy.files.stats()
            cap = proxy.config.cache_max_bytes
            grid.add_row(proxy.name, str(count), str(size), "none" if cap is None else str(cap))
        out.print(grid)


@cache_app.command("prune")
def cache_prune(
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="One proxy index (default: all).")
    ] = None,
    max_bytes: Annotated[
        int | None,
        typer.Option("--max-bytes", help="Prune to this size (default: each index's cap)."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Evict least-recently-used cached files down to the cap (hosted files are never evicted)."""
    import anyio  # imported here: most commands need no event loop

    with opened(data_dir, config) as runtime:
        for proxy in _proxies(runtime, index):
            evicted = anyio.run(proxy.files.evict, None, max_bytes)
            count, size = proxy.files.stats()
            out.print(
                f"{proxy.name}: evicted {len(evicted)} file(s);"
                f" {count} file(s) of {size} bytes remain.",
                highlight=False,
            )
