"""What the suite measures, one interface over every server: where its index and project pages
are, which process to watch, and how to start it fresh. nginx (the static tree, also the
upstream of every proxy), Stilton as a proxy and as a hosted index, and the peers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from bench.peers import DevpiMirror, Proxpi, Pypiserver
from bench.servers import NginxUpstream, StiltonProxy
from bench.upstream import JSON_FILE
from tests.support.server import StiltonServer

HOSTED_INDEX = "local"  # where `stilton import` puts the corpus
IMPORT_TIMEOUT = 900.0  # seconds for `stilton import` of the whole corpus


class Target(Protocol):
    """A running server the suite measures."""

    @property
    def label(self) -> str: ...

    @property
    def index_url(self) -> str: ...

    @property
    def pid(self) -> int: ...

    def page_url(self, project: str, json: bool) -> str: ...


Opener = Callable[[Path], AbstractContextManager[Target]]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A named server and how to start it fresh under a work directory."""

    name: str
    open: Opener
    stilton: bool = False


class NginxTarget:
    """The static upstream itself, already running: its JSON pages are ``index.json`` files."""

    def __init__(self, upstream: NginxUpstream) -> None:
        self.upstream = upstream

    @property
    def label(self) -> str:
        return self.upstream.label

    @property
    def index_url(self) -> str:
        return self.upstream.index_url

    @property
    def pid(self) -> int:
        return self.upstream.pid

    def page_url(self, project: str, json: bool) -> str:
        return f"{self.index_url}{project}/{JSON_FILE if json else ''}"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


class StiltonTarget:
    """A Stilton server and one of its indexes; pages negotiate HTML or JSON by ``Accept``."""

    def __init__(self, server: StiltonServer, index: str, label: str) -> None:
        self.server = server
        self.index = index
        self.label = label

    @property
    def index_url(self) -> str:
        return self.server.index_url(self.index)

    @property
    def pid(self) -> int:
        if self.server.pid is None:
            raise RuntimeError("stilton serve is not running")
        return self.server.pid

    def page_url(self, project: str, json: bool) -> str:
        return f"{self.index_url}{project}/"

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.stop()


class StiltonProxyTarget(StiltonTarget):
    """A fresh Stilton (empty data directory) with a proxy index of the upstream."""

    def __init__(self, root: Path, upstream_url: str, environ: Mapping[str, str], label: str):
        self.proxy = StiltonProxy(root, upstream_url, environ)
        super().__init__(self.proxy.server, "up", label)

    def __enter__(self) -> Self:
        self.proxy.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.proxy.__exit__(exc_type, exc, traceback)


def import_hosted(root: Path, dists: Path, environ: Mapping[str, str]) -> float:
    """``stilton import dists --index local`` into ``root``'s data directory; its seconds."""
    server = StiltonServer(root, environ=environ)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    server.cli(
        "import",
        str(dists),
        "--index",
        HOSTED_INDEX,
        "--data-dir",
        str(server.data_dir),
        timeout=IMPORT_TIMEOUT,
    )
    return time.perf_counter() - started


def target_specs(
    upstream: NginxUpstream,
    hosted_root: Path,
    dists: Path,
    environ: Mapping[str, str],
    stilton_label: str,
    with_peers: bool,
) -> list[TargetSpec]:
    """Every server of the suite, in the order measured: nginx, Stilton, then the peers."""
    up = upstream.index_url

    def hosted(_: Path) -> StiltonTarget:
        # The imported data directory is reused; a restart empties every in-memory cache.
        return StiltonTarget(
            StiltonServer(hosted_root, environ=environ), HOSTED_INDEX, stilton_label
        )

    specs = [
        TargetSpec("nginx", lambda _: NginxTarget(upstream)),
        TargetSpec(
            "stilton proxy",
            lambda root: StiltonProxyTarget(root, up, environ, stilton_label),
            stilton=True,
        ),
        TargetSpec("stilton hosted", hosted, stilton=True),
    ]
    if with_peers:
        specs += [
            TargetSpec("devpi", lambda root: DevpiMirror(root, up, environ)),
            TargetSpec("proxpi", lambda root: Proxpi(root, up, environ)),
            TargetSpec("pypiserver", lambda root: Pypiserver(root, dists, environ)),
        ]
    return specs
