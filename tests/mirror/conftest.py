"""Mirror tests: a real data directory (SQLite, blob store) synced in-process from a fake
upstream on its own loopback port."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import pytest

from stilton.core.model import IndexKind
from stilton.core.upstream import UpstreamConfig
from stilton.mirror.config import FileFilters, MirrorConfig
from stilton.mirror.report import SyncReport
from stilton.mirror.runs import MirrorHome, run_mirror
from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from tests.mirror import graph
from tests.support.server import CLOSED_UPSTREAM
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        graph.publish(fake)
        yield fake


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {}, {"data_dir": tmp_path / "data", "default_upstream": CLOSED_UPSTREAM}
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    opened = open_runtime(settings)
    yield opened
    opened.close()


def home_of(runtime: Runtime) -> MirrorHome:
    settings = runtime.settings
    return MirrorHome(
        runtime.database, runtime.blobs, settings.max_upload_size, settings.data_dir / "mirrors"
    )


def add_mirror(
    runtime: Runtime,
    upstream: FakeUpstream,
    requirements: Sequence[str] = graph.ROOTS,
    *,
    name: str = "m",
    index: str = "mirrored",
    with_deps: bool = True,
    pythons: Sequence[str] = ("3.11",),
    platforms: Sequence[str] = ("manylinux_2_17_x86_64",),
    filters: FileFilters | None = None,
    prune: bool = False,
    concurrency: int = 4,
) -> None:
    runtime.create_index(index, IndexKind.HOSTED)
    config = MirrorConfig(
        upstream=UpstreamConfig.from_mapping({"url": upstream.simple_url}),
        requirements=tuple(requirements),
        with_deps=with_deps,
        pythons=tuple(pythons),
        platforms=tuple(platforms),
        filters=filters or FileFilters(latest=1),
        prune=prune,
        concurrency=concurrency,
    )
    home_of(runtime).add(name, index, config)  # type: ignore[arg-type]


def sync(runtime: Runtime, name: str = "m", *, prune: bool | None = None) -> SyncReport:
    home = home_of(runtime)

    async def run() -> SyncReport:
        return await run_mirror(home, name, prune=prune)

    return anyio.run(run)


def live_files(runtime: Runtime, index: str = "mirrored") -> dict[str, tuple[bool, str | None]]:
    """filename -> (yanked, reason) of every live file of ``index``."""
    hosted = runtime.hosted(index)
    found: dict[str, tuple[bool, str | None]] = {}
    for project in hosted.project_list().projects:
        detail = hosted.find_detail(project.name)
        assert detail is not None
        found.update({f.filename: (f.yanked, f.yanked_reason) for f in detail.files})
    return found


def file_gets(upstream: FakeUpstream) -> list[str]:
    """Paths of the file downloads (not metadata) the upstream answered."""
    return [
        r.path
        for r in upstream.requests
        if r.path.startswith("/files/") and not r.path.endswith(".metadata") and r.method == "GET"
    ]
