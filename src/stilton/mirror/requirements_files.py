"""Requirements read from files: a pip requirements file, a ``pylock.toml`` (PEP 751, read with
``packaging.pylock``), or a ``uv.lock`` / ``poetry.lock`` (only names and versions of the
packages that come from an index). Each becomes PEP 508 strings, checked by ``packaging``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.pylock import Pylock, PylockValidationError, is_valid_pylock_path

from stilton.core.errors import InvalidInput
from stilton.mirror.config import parse_requirement

# pip: a comment starts at "#" at the start of a line or after whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")
# pip: options may follow a requirement on its line ("--hash=sha256:..."); they end it.
_LINE_OPTIONS = re.compile(r"\s+--?[A-Za-z]")
_INCLUDE = ("-r", "--requirement")
_REFUSED = ("-e", "--editable")


def read_requirements_file(path: Path) -> list[str]:
    """The requirements ``path`` names, by the kind of file its name says it is."""
    if path.name == "uv.lock":
        return _uv_lock(_toml(path), path)
    if path.name == "poetry.lock":
        return _poetry_lock(_toml(path), path)
    if is_valid_pylock_path(path):
        return _pylock(_toml(path), path)
    return _pip_file(path, frozenset())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the requirements file {path}: {exc}.") from exc


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}.") from exc


def _pin(name: object, version: object, path: Path, marker: object = None) -> str:
    if not isinstance(name, str) or not isinstance(version, str):
        raise InvalidInput(f"{path} has a package without a name and version.")
    suffix = f"; {marker}" if marker else ""
    return str(parse_requirement(f"{name}=={version}{suffix}"))


def _pylock(document: dict[str, Any], path: Path) -> list[str]:
    try:
        lock = Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise InvalidInput(f"{path} is not a valid pylock.toml (PEP 751): {exc}.") from exc
    # Packages from a directory or a VCS have no version an index could serve.
    return [
        _pin(p.name, str(p.version), path, p.marker) for p in lock.packages if p.version is not None
    ]


def _uv_lock(document: dict[str, Any], path: Path) -> list[str]:
    packages = document.get("package", [])
    return [
        _pin(package.get("name"), package.get("version"), path)
        for package in packages
        if isinstance(package, dict) and "registry" in (package.get("source") or {})
    ]


def _poetry_lock(document: dict[str, Any], path: Path) -> list[str]:
    packages = document.get("package", [])
    return [
        _pin(package.get("name"), package.get("version"), path)
        for package in packages
        if isinstance(package, dict)
        and (package.get("source") or {}).get("type") in (None, "legacy")
    ]


def _logical_lines(text: str) -> list[str]:
    """Lines with continuations joined and comments removed (pip's requirements format)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            lines.append(line)
    return lines


def _pip_file(path: Path, seen: frozenset[Path]) -> list[str]:
    if path.resolve() in seen:
        raise InvalidInput(f"{path} includes itself (through -r).")
    seen = seen | {path.resolve()}
    found: list[str] = []
    for line in _logical_lines(_read(path)):
        option, _, value = line.partition(" ")
        if option in _INCLUDE:
            found += _pip_file(path.parent / value.strip(), seen)
        elif option in _REFUSED:
            raise InvalidInput(
                f"{path}: {line!r} is an editable install; a mirror takes projects by name."
            )
        elif not line.startswith("-"):  # other options (index URLs, --pre ...) do not select
            found.append(str(parse_requirement(_LINE_OPTIONS.split(line, maxsplit=1)[0])))
    return found
