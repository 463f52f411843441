"""How often Python's cyclic garbage collector looks at new objects, for the processes that
make many long-lived ones: a command's start (imports) and a server parsing big pages."""

from __future__ import annotations

import gc

YOUNGEST = 10_000  # allocations between collections of the youngest generation (default 700)


def collect_young_less_often() -> None:
    """At the interpreter's default the collector rescans what lives on every 700 new objects:
    a tenth of a short command's time, and 1.7 s of the 7 s of CPU a server spent in a cold
    install of ~100 real-size pages. Cycles are still collected, only a few thousand
    allocations later."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
