"""CPU slots: heavy steps run in worker threads, never more at once than there are slots."""

from __future__ import annotations

import threading

import anyio

from stilton.indexes.cpu_slots import CpuSlots, release_free_memory


def test_never_more_steps_at_once_than_slots() -> None:
    slots = CpuSlots(2)
    lock = threading.Lock()
    running: list[int] = [0]
    most: list[int] = [0]
    started = threading.Barrier(2, timeout=10)

    def step(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if n < 2:
            started.wait()  # the first two overlap for sure
        with lock:
            running[0] -= 1
        return n * n

    async def main() -> list[int]:
        results: list[int] = [0] * 6

        async def one(n: int) -> None:
            results[n] = await slots.run(step, n)

        async with anyio.create_task_group() as group:
            for n in range(6):
                group.start_soon(one, n)
        return results

    assert anyio.run(main) == [0, 1, 4, 9, 16, 25]
    assert most[0] == 2


def test_at_least_one_slot() -> None:
    assert CpuSlots(0).slots == 1
    release_free_memory()  # harmless where the C library has no malloc_trim
