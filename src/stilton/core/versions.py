"""Ordering of version strings: PEP 440 versions by their meaning, anything else before them."""

from __future__ import annotations

from functools import lru_cache

from packaging.version import InvalidVersion, Version


@lru_cache(maxsize=32768)  # a page's versions are sorted on every render of it
def version_sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
