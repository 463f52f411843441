"""Several Stilton replicas on one database and one blob store, behind a local nginx: the
scale-out layout, for tests and the benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.support.balancer import Balancer
from tests.support.server import StiltonServer


class Replicas:
    def __init__(
        self,
        root: Path,
        settings: Mapping[str, str],
        count: int = 3,
        *,
        default_upstream: str | None = None,
        workers: int = 1,
    ) -> None:
        """``settings``: what the replicas share (``database_url``, ``blob_url``, ``s3_*``)."""
        extra = {} if default_upstream is None else {"default_upstream": default_upstream}
        self.servers = [
            StiltonServer(
                root / f"replica{number}", settings={**settings, **extra}, workers=workers
            )
            for number in range(count)
        ]
        self.balancer = Balancer([server.port for server in self.servers])

    @property
    def url(self) -> str:
        """The balancer's URL: what clients use."""
        return self.balancer.url

    def index_url(self, index: str) -> str:
        return f"{self.url}/{index}/simple/"

    def start(self) -> None:
        for server in self.servers:
            server.start()
        self.balancer.start()

    def stop(self) -> None:
        self.balancer.stop()
        for server in self.servers:
            server.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- replica {n} ---\n{s.read_log()[-3000:]}" for n, s in enumerate(self.servers)
        )

    def __enter__(self) -> Replicas:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
