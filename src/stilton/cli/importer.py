"""``stilton import``: walk a directory and load its distributions, reporting each problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stilton.core.errors import InsufficientStorage, StiltonError
from stilton.core.filenames import SDIST_SUFFIXES
from stilton.indexes.base import UploadOutcome
from stilton.indexes.hosted import HostedIndex


@dataclass
class ImportReport:
    created: int = 0
    unchanged: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)


def is_distribution(path: Path) -> bool:
    return path.is_file() and (path.name.endswith(".whl") or path.name.endswith(SDIST_SUFFIXES))


def import_directory(index: HostedIndex, directory: Path) -> ImportReport:
    report = ImportReport()
    for path in sorted(p for p in directory.rglob("*") if is_distribution(p)):
        try:
            outcome = index.import_file(path, actor="cli:import")
        except InsufficientStorage:
            raise  # every later file would fail the same way: stop, and say why once
        except StiltonError as exc:
            report.failed.append((path, exc.message))
            continue
        if outcome is UploadOutcome.CREATED:
            report.created += 1
        else:
            report.unchanged += 1
    return report
