"""Per-process state of the web app: the runtime, index objects and the hot-path caches."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stilton.core.errors import NotFound
from stilton.core.index_config import IndexConfig
from stilton.core.names import IndexName
from stilton.core.permissions import Acl
from stilton.indexes.base import Index, Staleness, StoredBlob
from stilton.indexes.single_flight import SingleFlight
from stilton.runtime import Runtime
from stilton.web.cache import Stamp, StampedCache, Versions
from stilton.web.guard import CredentialChecks, FailureGuard
from stilton.web.metrics import Metrics

FILE_LOOKUP_WEIGHT = 256  # bytes, roughly, of one remembered file lookup


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page as sent: its body (for a big page only gzip-encoded, as nearly every client asks
    for it so, and unpacked for the few that do not), its ETag, and what it depends on."""

    plain: bytes | None  # the body, where it is kept as it is
    etag: str
    serial: int
    stale: Staleness | None = None
    gzipped: bytes | None = None  # the body gzip-encoded, made once, where it is worth it
    sources: frozenset[IndexName] = frozenset()  # other indexes a reader must be allowed

    @property
    def body(self) -> bytes:
        if self.plain is not None:
            return self.plain
        assert self.gzipped is not None
        return gzip.decompress(self.gzipped)

    @property
    def gzip_etag(self) -> str:
        """Each encoding is its own representation, with its own strong ETag."""
        return self.etag[:-1] + '-gzip"'

    @property
    def weight(self) -> int:
        return len(self.plain or b"") + len(self.gzipped or b"") + 200


@dataclass(frozen=True, slots=True)
class OpenedFile:
    """A stored file or metadata blob a file URL names, and the other indexes it comes from."""

    blob: StoredBlob
    sources: frozenset[IndexName] = frozenset()


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    index: Index
    stamp: Stamp
    closure: dict[str, Any]  # the configuration it was built from (see Runtime.config_closure)
    acls: dict[str, Acl]  # of the index and of every index it is built from

    @property
    def acl(self) -> Acl:
        return self.acls[self.index.name]

    @property
    def public(self) -> bool:
        """Anyone may read the index and everything it is built from."""
        return all(acl.is_public for acl in self.acls.values())

    def readable_by_anyone(self, sources: frozenset[IndexName]) -> bool:
        return all(self.acls[s].is_public for s in sources)


@dataclass
class WebState:
    runtime: Runtime
    versions: Versions
    # (project or None for the list, format, the members a list is made of or None for all)
    pages: StampedCache[tuple[str | None, str, frozenset[IndexName] | None], RenderedPage]
    files: StampedCache[tuple[str, str, bool], OpenedFile]
    guard: FailureGuard
    checks: CredentialChecks
    metrics: Metrics
    indexes: dict[str, BuiltIndex] = field(default_factory=dict)
    renders: SingleFlight[RenderedPage] = field(default_factory=SingleFlight)
    # Concurrent first lookups of an index share one build (a cold install's first burst asks
    # ~50 at once, and each build of a proxy opens an upstream client of its own).
    builds: SingleFlight[Index] = field(default_factory=SingleFlight)

    @classmethod
    def build(cls, runtime: Runtime, metrics: Metrics | None = None) -> WebState:
        metrics = metrics or Metrics()
        versions = Versions(runtime.feed, runtime.groups)
        settings = runtime.settings
        return cls(
            runtime,
            versions,
            StampedCache(versions, settings.page_cache_bytes, lambda page: page.weight),
            StampedCache(versions, settings.page_cache_bytes // 8, lambda _: FILE_LOOKUP_WEIGHT),
            FailureGuard.from_settings(runtime.database, settings),
            CredentialChecks.from_settings(settings),
            metrics,
            renders=SingleFlight(lambda: metrics.joined("render")),
        )

    async def index(self, name: str) -> Index:
        """The index called ``name``. Its configuration (and its members') is read again only
        when a change to one of them was heard, and the object rebuilt only when it changed."""
        stamp = self.versions.index_stamp(name)
        cached = self.indexes.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached.index
        return await self.builds.run((name, stamp), lambda: self._build(name, stamp))

    async def _build(self, name: str, stamp: Stamp) -> Index:
        if name not in self.indexes:
            # First sight of this index in this process: hear what was committed before
            # reading it (its creation, say), so that the feed delivering that change a moment
            # later does not make stale everything built and rendered meanwhile.
            await run_in_threadpool(self.versions.catch_up)
            stamp = self.versions.index_stamp(name)
        cached = self.indexes.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached.index
        closure = await run_in_threadpool(self.runtime.config_closure, name)
        if cached is not None and cached.closure == closure:
            index = cached.index
        else:
            index = await run_in_threadpool(self.runtime.index, name)
            if cached is not None:
                await cached.index.aclose()
        acls = {n: IndexConfig.from_mapping(config).acl for n, (_, config) in closure.items()}
        self.indexes[name] = BuiltIndex(index, stamp, closure, acls)
        return index

    def built(self, name: str) -> BuiltIndex:
        """An index already looked up with ``index()``, with the access lists it depends on."""
        return self.indexes[name]

    def acl(self, name: str) -> Acl:
        """The access list of an index already looked up with ``index()``."""
        return self.indexes[name].acl

    async def close(self) -> None:
        for built in self.indexes.values():
            await built.index.aclose()
        self.indexes.clear()

    @property
    def default_index(self) -> IndexName:
        return self.runtime.settings.default_index


def state_of(request: Request) -> WebState:
    state = request.app.state.stilton
    assert isinstance(state, WebState)
    return state


async def index_of(request: Request) -> Index:
    state = state_of(request)
    name = request.path_params.get("index", state.default_index)
    try:
        return await state.index(name)
    except NotFound:
        raise NotFound(f"No index named {name!r} on this server.") from None
