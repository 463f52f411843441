"""Per-process state of the web app: the runtime, index objects and the hot-path caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stilton.core.errors import NotFound
from stilton.core.names import IndexName
from stilton.indexes.base import Index, Staleness, StoredBlob
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
    indexes: dict[str, Index] = field(default_factory=dict)

    @classmethod
    def build(cls, runtime: Runtime) -> WebState:
        generations = Generations(runtime.generations, runtime.settings.generation_poll_interval)
        generations.refresh_now()
        return cls(runtime, generations, GenerationCache(generations), GenerationCache(generations))

    async def index(self, name: str) -> Index:
        """The index called ``name``; looked up in the database only the first time."""
        found = self.indexes.get(name)
        if found is None:
            found = await run_in_threadpool(self.runtime.index, name)
            self.indexes[name] = found
        return found

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
