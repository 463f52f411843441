"""Waiting for what a server does in the background (a write, a retry, a poll) to show."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT = 60.0  # seconds: how long something may take to show on a loaded machine, never a target


def wait_for(
    check: Callable[[], object], what: str, within: float = WAIT, every: float = 0.05
) -> None:
    """Return once ``check()`` is true; fail, naming ``what``, if it is not within ``within``."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f} s"
        time.sleep(every)
