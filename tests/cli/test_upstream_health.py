"""``stilton index list`` says which proxies' upstreams a process marked unhealthy, and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stilton.core.errors import UpstreamError
from stilton.core.model import IndexKind
from stilton.core.names import normalize_project_name
from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from tests.cli.test_commands import run
from tests.support.server import CLOSED_UPSTREAM


async def fail_three_times(runtime: Runtime) -> None:
    """Three requests for an uncached page of a proxy whose upstream port is closed."""
    index = runtime.proxy(runtime.get_index_record("down"))
    try:
        for _ in range(3):
            with pytest.raises(UpstreamError, match="Could not reach the upstream"):
                await index.find_project(normalize_project_name("alpha"))
    finally:
        await index.aclose()
        await runtime.upstream_health.aclose()


def test_index_list_shows_an_unhealthy_upstream(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = open_runtime(
        Settings.from_env({}, {"data_dir": data_dir, "default_upstream": CLOSED_UPSTREAM})
    )
    try:
        runtime.create_index("down", IndexKind.PROXY, {"url": CLOSED_UPSTREAM})
        before = run(data_dir, "index", "list")
        asyncio.run(fail_three_times(runtime))
    finally:
        runtime.close()

    assert "pypi: upstream healthy" in before and "down: upstream healthy" in before
    listing = run(data_dir, "index", "list")
    assert "pypi: upstream healthy" in listing
    detail = [line for line in listing.splitlines() if line.startswith("down: ")]
    assert len(detail) == 1
    assert "upstream unhealthy since" in detail[0]
    assert "after 3 failure(s) in a row; next retry at" in detail[0]
    assert "Could not reach the upstream" in detail[0]
    assert not [line for line in listing.splitlines() if line.startswith("local: ")]
