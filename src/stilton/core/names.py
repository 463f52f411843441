"""Project and index names: the checked string types every key and URL is built from."""

from __future__ import annotations

import re
from typing import NewType

from packaging.utils import canonicalize_name

from stilton.core.errors import InvalidInput

# PEP 503: the normalized form of a project name; made only by normalize_project_name().
ProjectName = NewType("ProjectName", str)
IndexName = NewType("IndexName", str)

# PEP 508 / core metadata: a valid project name.
_VALID_PROJECT = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]", re.ASCII)
_VALID_INDEX = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?", re.ASCII)
RESERVED_INDEX_NAMES = frozenset(
    {"simple", "api", "ui", "static", "files", "pypi", "-", "_", "legacy", "health"}
)


def is_valid_project_name(raw: str) -> bool:
    return _VALID_PROJECT.fullmatch(raw) is not None


def normalize_project_name(raw: str) -> ProjectName:
    """PEP 503: lowercase, and every run of ``-``, ``_`` and ``.`` becomes one ``-``."""
    if not is_valid_project_name(raw):
        raise InvalidInput(
            f"{raw!r} is not a valid project name: use ASCII letters, digits, '.', '-' and '_',"
            " starting and ending with a letter or digit."
        )
    return ProjectName(canonicalize_name(raw))


def parse_index_name(raw: str, *, existing: bool = False) -> IndexName:
    """An index name is a lowercase slug that is not one of the reserved path segments (the
    default layout's own ``pypi`` excepted: ``existing`` names an index that may be it)."""
    if _VALID_INDEX.fullmatch(raw) is None:
        raise InvalidInput(
            f"{raw!r} is not a valid index name: use 1-64 lowercase letters, digits, '-' or '_',"
            " starting and ending with a letter or digit."
        )
    if raw in RESERVED_INDEX_NAMES and not existing:
        raise InvalidInput(f"{raw!r} is reserved and cannot name an index.")
    return IndexName(raw)
