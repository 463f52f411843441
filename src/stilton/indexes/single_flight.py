"""Single flight: concurrent callers asking for the same key share one run of the work.

The work runs as its own task, so a caller that goes away (a client that disconnects) does not
cancel it for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self, joined: Callable[[], None] = lambda: None) -> None:
        self._running: dict[Hashable, asyncio.Task[T]] = {}
        self._joined = joined  # told of each caller that shares a run (for metrics)

    async def run(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(work())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        else:
            self._joined()
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited is not reported
