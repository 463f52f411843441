"""Per-process state of the web app: the runtime, index objects and the hot-path caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stilton.core.errors import NotFound
from stilton.core.names import IndexName
from stilton.indexes.base import Index, Staleness, StoredBlob
from stilton.indexes.proxy import ProxyIndex
from stilton.runtime import Runtime
from stilton.web.cache import GenerationCache, Generations


@dataclass(frozen=True, slots=True)
class RenderedPage:
    body: bytes
    etag: str
    serial: int
    stale: Staleness | None = None


@dataclass
class WebState:
    runtime: Runtime
    generations: Generations
    pages: GenerationCache[tuple[str | None, str], RenderedPage]
    files: GenerationCache[tuple[str, str, bool], StoredBlob]
    indexes: dict[str, tuple[Index, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, runtime: Runtime) -> WebState:
        generations = Generations(runtime.generations, runtime.settings.generation_poll_interval)
        generations.refresh_now()
        return cls(runtime, generations, GenerationCache(generations), GenerationCache(generations))

    async def index(self, name: str) -> Index:
        """The index called ``name``. Its row is read again only when its generation moved
        on, and the object rebuilt only when its configuration changed."""
        generation = self.generations.current(name)
        cached = self.indexes.get(name)
        if cached is not None and cached[1] == generation:
            return cached[0]
        record = await run_in_threadpool(self.runtime.get_index_record, name)
        if cached is not None and cached[0].record.config == record.config:
            index = cached[0]
        else:
            index = await run_in_threadpool(self.runtime.build_index, record)
            if cached is not None:
                await close_index(cached[0])
        self.indexes[name] = (index, generation)
        return index

    async def close(self) -> None:
        for index, _ in self.indexes.values():
            await close_index(index)
        self.indexes.clear()

    def changed(self) -> None:
        """This process changed an index: see the new generations at once."""
        self.generations.refresh_now()

    @property
    def default_index(self) -> IndexName:
        return self.runtime.settings.default_index


async def close_index(index: Index) -> None:
    if isinstance(index, ProxyIndex):
        await index.aclose()


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
