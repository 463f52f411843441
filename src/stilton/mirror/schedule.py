"""Mirrors with ``--every`` run inside ``stilton serve``: each worker looks at the mirrors at
least every ``POLL`` seconds and starts the ones that are due; the run lock lets one worker (or
one CLI command) sync a mirror at a time, and the others pass."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import anyio

from stilton.core.errors import Conflict, StiltonError
from stilton.mirror.runs import MirrorHome, run_mirror
from stilton.storage.mirrors import MirrorRecord
from stilton.storage.schema import utcnow

logger = logging.getLogger("stilton.mirror")

POLL = 30.0  # seconds: a mirror added while the server runs starts within this


def due_in(record: MirrorRecord, now: datetime) -> float | None:
    """Seconds until the mirror's next run (0 or less: due now); None without ``--every``."""
    every = record.config.get("every")
    if not every:
        return None
    if record.last_started is None:
        return 0.0
    return (record.last_started + timedelta(seconds=every) - now).total_seconds()


async def run_due(home: MirrorHome) -> float:
    """Run every mirror that is due; the seconds until the next one is (at most ``POLL``)."""
    wait = POLL
    for record in await anyio.to_thread.run_sync(home.list):
        seconds = due_in(record, utcnow())
        if seconds is None:
            continue
        if seconds > 0:
            wait = min(wait, seconds)
            continue
        await _run(home, record)
    return wait


async def _run(home: MirrorHome, record: MirrorRecord) -> None:
    try:
        report = await run_mirror(home, record.name)
    except Conflict:
        return  # another worker or a CLI command is running it
    except StiltonError as exc:
        logger.warning("mirror %s could not run: %s", record.name, exc.message)
        return
    logger.info(
        "mirror %s: %s, %d file(s) added, %d removed, %d problem(s)",
        record.name,
        report.status.value,
        len(report.added),
        len(report.removed) + len(report.pruned),
        len(report.problems),
    )
    for problem in report.problems[:20]:
        logger.warning("mirror %s: %s", record.name, problem)


async def run_schedule(home: MirrorHome) -> None:
    """Forever: run what is due, then sleep until the next is (the server cancels it)."""
    while True:
        try:
            wait = await run_due(home)
        except StiltonError as exc:
            logger.warning("cannot read the mirrors: %s", exc.message)
            wait = POLL
        await anyio.sleep(max(wait, 1.0))
