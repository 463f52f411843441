"""What a sync did, for the summary table, ``stilton mirror status`` and the exit code; and the
observer through which a caller (the CLI's progress bar, the server's log) follows a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    ERRORS = "errors"  # the run finished, but something could not be mirrored
    FAILED = "failed"  # the run stopped early (upstream unreachable, disk full ...)


@dataclass
class SyncReport:
    projects: int = 0  # projects in the closure
    pages_unchanged: int = 0  # answered 304 (or a stale copy ignored)
    selected: int = 0  # files the selection takes
    added: list[str] = field(default_factory=list)
    present: int = 0  # selected files stored already (a resumed run skips them)
    downloaded_bytes: int = 0
    metadata_fetched: int = 0  # PEP 658 files read from the upstream
    unverified: list[str] = field(default_factory=list)  # the upstream gave no sha256
    yanked: list[str] = field(default_factory=list)
    unyanked: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # files removed upstream
    removed_projects: list[str] = field(default_factory=list)
    status_changes: list[str] = field(default_factory=list)  # "project: quarantined"
    pruned: list[str] = field(default_factory=list)  # no longer selected (--prune)
    restored: list[str] = field(default_factory=list)
    skipped: int = 0  # files the filters left out
    denied: list[str] = field(default_factory=list)  # projects --allow/--deny left out
    unsatisfied: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failure: str | None = None  # why the run stopped early
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> RunStatus:
        if self.failure is not None:
            return RunStatus.FAILED
        return RunStatus.ERRORS if self.errors or self.unsatisfied else RunStatus.OK

    @property
    def problems(self) -> list[str]:
        return [*self.unsatisfied, *self.errors, *([self.failure] if self.failure else [])]

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SyncReport:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in values.items() if key in known})

    def counts(self) -> list[tuple[str, int]]:
        """The rows of a summary table."""
        return [
            ("projects", self.projects),
            ("pages unchanged", self.pages_unchanged),
            ("files selected", self.selected),
            ("files added", len(self.added)),
            ("files already present", self.present),
            ("MiB downloaded", round(self.downloaded_bytes / 2**20)),
            ("metadata files read", self.metadata_fetched),
            ("yanked", len(self.yanked)),
            ("unyanked", len(self.unyanked)),
            ("removed upstream", len(self.removed)),
            ("projects removed upstream", len(self.removed_projects)),
            ("status changes", len(self.status_changes)),
            ("pruned", len(self.pruned)),
            ("skipped by filters", self.skipped),
            ("unsatisfied requirements", len(self.unsatisfied)),
            ("errors", len(self.errors) + (self.failure is not None)),
        ]


class SyncObserver(Protocol):
    """Follows a run: a phase begins (with how many steps, where known), a step ends."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, detail: str = "") -> None: ...


class QuietObserver:
    def phase(self, name: str, total: int | None) -> None:
        return

    def advance(self, detail: str = "") -> None:
        return
