"""Per-process state of the web app: the runtime, index objects and the hot-path caches."""

from __future__ import annotations

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
from stilton.web.cache import GenerationCache, Generations
from stilton.web.guard import FailureGuard


@dataclass(frozen=True, slots=True)
class RenderedPage:
    body: bytes
    etag: str
    serial: int
    stale: Staleness | None = None
    gzipped: bytes | None = None  # the body gzip-encoded, made once, where it is worth it

    @property
    def gzip_etag(self) -> str:
        """Each encoding is its own representation, with its own strong ETag."""
        return self.etag[:-1] + '-gzip"'


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    index: Index
    generation: int
    closure: dict[str, Any]  # the configuration it was built from (see Runtime.config_closure)
    acl: Acl


@dataclass
class WebState:
    runtime: Runtime
    generations: Generations
    pages: GenerationCache[tuple[str | None, str], RenderedPage]
    files: GenerationCache[tuple[str, str, bool], StoredBlob]
    indexes: dict[str, BuiltIndex] = field(default_factory=dict)
    guard: FailureGuard = field(default_factory=FailureGuard)
    renders: SingleFlight[RenderedPage] = field(default_factory=SingleFlight)

    @classmethod
    def build(cls, runtime: Runtime) -> WebState:
        generations = Generations(
            lambda: (runtime.generations(), runtime.groups()),
            runtime.settings.generation_poll_interval,
        )
        generations.refresh_now()
        runtime.listeners.append(generations.mark_changed)
        return cls(runtime, generations, GenerationCache(generations), GenerationCache(generations))

    async def index(self, name: str) -> Index:
        """The index called ``name``. Its configuration (and its members') is read again only
        when its generation moved on, and the object rebuilt only when that changed."""
        generation = self.generations.current(name)
        cached = self.indexes.get(name)
        if cached is not None and cached.generation == generation:
            return cached.index
        closure = await run_in_threadpool(self.runtime.config_closure, name)
        if cached is not None and cached.closure == closure:
            index = cached.index
        else:
            index = await run_in_threadpool(self.runtime.index, name)
            if cached is not None:
                await cached.index.aclose()
        acl = IndexConfig.from_mapping(index.record.config).acl
        self.indexes[name] = BuiltIndex(index, generation, closure, acl)
        return index

    def acl(self, name: str) -> Acl:
        """The access list of an index already looked up with ``index()``."""
        return self.indexes[name].acl

    async def close(self) -> None:
        for built in self.indexes.values():
            await built.index.aclose()
        self.indexes.clear()

    def changed(self) -> None:
        """This process changed an index: see the new generations at once."""
        self.generations.refresh_now()

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
