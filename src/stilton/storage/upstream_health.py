"""What processes learnt about proxies' upstreams, for reports: each worker judges an upstream's
health by its own requests and writes its latest judgement here (a ``meta`` row per proxy, the
last writer's), so that ``stilton index list`` and ``/-/ready`` show it whichever process
answers. Rows are keyed by the index's id (a name may be longer than a ``meta`` key
allows).

A process that holds an upstream unhealthy retries it and writes the row again after each
failed retry, so an unhealthy row whose retry is long past was left by a process that is gone
(a restart): it is not reported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from stilton.core.names import IndexName
from stilton.storage.catalog import set_meta
from stilton.storage.schema import indexes, meta

PREFIX = "upstream-health:"
# How long after its due retry an unhealthy row still counts: a retry may take the upstream's
# request deadline, and the row is written once it has failed.
LEFT_BEHIND = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class HealthReport:
    healthy: bool
    failures: int  # in a row
    since: datetime  # when it was last marked unhealthy or healthy again
    last_error: str | None
    retry_at: datetime | None  # the next background retry, while unhealthy

    def to_json(self) -> str:
        return json.dumps(self.to_mapping(), sort_keys=True)

    def to_mapping(self) -> dict[str, object]:
        """The report as ``/-/ready`` and the admin API show it (ISO times, UTC)."""
        return {
            "healthy": self.healthy,
            "failures": self.failures,
            "since": self.since.isoformat(timespec="seconds"),
            "last_error": self.last_error,
            "retry_at": self.retry_at.isoformat(timespec="seconds") if self.retry_at else None,
        }

    @classmethod
    def from_json(cls, text: str) -> HealthReport:
        """Raises ValueError for a row no version of Stilton wrote."""
        data = json.loads(text)
        retry_at = data.get("retry_at")
        try:
            return cls(
                healthy=bool(data["healthy"]),
                failures=int(data["failures"]),
                since=datetime.fromisoformat(data["since"]),
                last_error=data.get("last_error"),
                retry_at=datetime.fromisoformat(retry_at) if retry_at else None,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an upstream health report: {exc}") from exc

    def current(self, now: datetime) -> bool:
        """Whether a process still holds the upstream so (see the module's note)."""
        return self.healthy or self.retry_at is None or now < self.retry_at + LEFT_BEHIND


def shown(report: HealthReport | None) -> dict[str, object]:
    """A proxy's upstream as ``/-/ready`` and the admin API show it (None: healthy)."""
    return report.to_mapping() if report is not None else {"healthy": True}


def record_health(connection: Connection, index_id: int, report: HealthReport) -> None:
    set_meta(connection, f"{PREFIX}{index_id}", report.to_json())


def find_health_reports(connection: Connection, now: datetime) -> dict[IndexName, HealthReport]:
    """The current report of each proxy whose upstream any process ever marked unhealthy, by
    index name (of an index that still exists); other proxies' upstreams count as healthy."""
    names = {
        str(row.id): IndexName(row.name)
        for row in connection.execute(select(indexes.c.id, indexes.c.name))
    }
    rows = connection.execute(select(meta.c.key, meta.c.value).where(meta.c.key.startswith(PREFIX)))
    found: dict[IndexName, HealthReport] = {}
    for key, value in rows:
        name = names.get(key.removeprefix(PREFIX))
        if name is None:
            continue  # of an index removed since
        try:
            report = HealthReport.from_json(value)
        except ValueError:
            continue  # a row no version of Stilton wrote
        if report.current(now):
            found[name] = report
    return found
