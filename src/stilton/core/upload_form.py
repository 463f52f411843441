"""The legacy upload form (PROTOCOLS.md §3.1): parse the fields every uploader sends.

Pure: takes the multipart fields as strings, returns an ``UploadForm`` or raises InvalidInput
with PyPI's wording where clients depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from packaging.metadata import RawMetadata
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from stilton.core.errors import Gone, InvalidInput
from stilton.core.filenames import DistributionFilename, PackageType
from stilton.core.metadata import ACCEPTED_METADATA_VERSIONS, CORE_METADATA_SPEC
from stilton.core.model import Digests

Fields = Mapping[str, Sequence[str]]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")

# Form field -> RawMetadata key. Multi-use fields are pluralized by the uploaders, except the
# few that PyPI names in the singular; pdm sends "provides_extras".
_SINGLE = (
    "name",
    "version",
    "summary",
    "description",
    "description_content_type",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "home_page",
    "download_url",
    "requires_python",
)
_MULTI = {
    "classifiers": "classifiers",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "provides_extras": "provides_extra",
    "dynamic": "dynamic",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "license_file": "license_files",
    "license_files": "license_files",
}


@dataclass(frozen=True, slots=True)
class SentDigests:
    """The digests an uploader claims; at least one is present."""

    md5: str | None
    sha256: str | None
    blake2_256: str | None

    def mismatches(self, actual: Digests) -> list[str]:
        pairs = (
            ("md5", self.md5, actual.md5),
            ("sha256", self.sha256, actual.sha256),
            ("blake2_256", self.blake2_256, actual.blake2b_256),
        )
        return [name for name, sent, real in pairs if sent is not None and sent != real]


@dataclass(frozen=True, slots=True)
class UploadForm:
    name: str
    version: str
    metadata_version: str
    filetype: PackageType
    pyversion: str
    digests: SentDigests
    comment: str | None
    metadata: RawMetadata


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _one(fields: Fields, key: str) -> str | None:
    """A single-valued field; empty strings and PyPI's "UNKNOWN" count as absent. Sent twice,
    it must say the same thing twice: which value counts would otherwise be the parser's pick."""
    stripped = dict.fromkeys(value.strip() for value in fields.get(key, ()))
    values = [value for value in stripped if value and value != "UNKNOWN"]
    if len(values) > 1:
        raise InvalidInput(
            f"Form field {key!r} was sent {len(values)} times with different values"
            f" ({', '.join(_shown(v) for v in values[:2])}{', ...' if len(values) > 2 else ''});"
            " it takes one value. Send it once."
        )
    return values[0] if values else None


def _required(fields: Fields, key: str) -> str:
    value = _one(fields, key)
    if value is None:
        raise InvalidInput(f"Missing required form field {key!r}.")
    return value


def check_action(fields: Fields) -> None:
    action = _one(fields, ":action")
    if action in {"submit", "submit_pkg_info", "doc_upload"}:
        raise Gone(f"The {action!r} action is not supported; upload distribution files instead.")
    if action != "file_upload":
        raise InvalidInput(f"Unknown or missing :action {action!r}; expected 'file_upload'.")
    protocol = _one(fields, "protocol_version") or "1"
    if protocol != "1":
        raise InvalidInput("Unknown protocol version.")


def _digest(fields: Fields, key: str, pattern: re.Pattern[str]) -> str | None:
    value = _one(fields, key)
    if value is None:
        return None
    value = value.lower()
    if not pattern.match(value):
        raise InvalidInput(f"Invalid value for {key}. Error: expected a hexadecimal digest.")
    return value


def parse_digests(fields: Fields) -> SentDigests:
    digests = SentDigests(
        md5=_digest(fields, "md5_digest", _HEX32),
        sha256=_digest(fields, "sha256_digest", _HEX64),
        blake2_256=_digest(fields, "blake2_256_digest", _HEX64),
    )
    if digests == SentDigests(None, None, None):
        raise InvalidInput("Error: Include at least one message digest.")
    return digests


def _filetype(fields: Fields, dist: DistributionFilename) -> PackageType:
    raw = _one(fields, "filetype")
    if raw is None:
        return dist.packagetype
    try:
        filetype = PackageType(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"'{raw}' is an invalid value for Filetype. Use 'sdist' or 'bdist_wheel'."
        ) from exc
    if filetype is not dist.packagetype:
        raise InvalidInput(
            f"Invalid distribution file. Filetype {raw!r} does not match {dist.filename!r}."
        )
    return filetype


def _pyversion(fields: Fields, dist: DistributionFilename) -> str:
    value = _one(fields, "pyversion")
    if dist.packagetype is PackageType.SDIST:
        if value not in (None, "source"):
            raise InvalidInput("Error: Use 'source' as Python version for an sdist.")
        return "source"
    return value or dist.python_version


def form_metadata(fields: Fields) -> RawMetadata:
    """Core metadata as the uploader sent it in form fields."""
    raw: dict[str, Any] = {"metadata_version": _one(fields, "metadata_version")}
    for key in _SINGLE:
        value = _one(fields, key)
        if value is not None:
            raw[key] = value
    for field_name, raw_key in _MULTI.items():
        values = [v for v in fields.get(field_name, ()) if v.strip() and v.strip() != "UNKNOWN"]
        if values:
            raw.setdefault(raw_key, []).extend(values)
    keywords = _one(fields, "keywords")
    if keywords:
        raw["keywords"] = [k.strip() for k in keywords.split(",") if k.strip()]
    urls = [v for v in fields.get("project_urls", ()) if "," in v]
    if urls:
        raw["project_urls"] = {
            label.strip(): url.strip() for label, _, url in (u.partition(",") for u in urls)
        }
    return cast(RawMetadata, raw)


def _metadata_version(fields: Fields) -> str:
    value = _required(fields, "metadata_version")
    if value not in ACCEPTED_METADATA_VERSIONS:
        raise InvalidInput(
            f"{_shown(value)} is an invalid value for Metadata-Version. Error: use one of"
            f" {', '.join(ACCEPTED_METADATA_VERSIONS)}. See {CORE_METADATA_SPEC} for more"
            " information."
        )
    return value


def _check_name_version(name: str, version: str, dist: DistributionFilename) -> None:
    try:
        parsed = Version(version)
    except InvalidVersion as exc:
        raise InvalidInput(
            f"{_shown(version)} is an invalid value for Version. Error: Start and end with a letter"
            " or numeral containing only ASCII numeric and '.', '_' and '-'. See the core metadata"
            " specification for more information."
        ) from exc
    if canonicalize_name(name) != str(dist.project):
        raise InvalidInput(
            f"Start filename for {name!r} with '{canonicalize_name(name).replace('-', '_')}'."
            f" The file {dist.filename!r} is for project {dist.project!r}."
        )
    if canonicalize_version(parsed) != canonicalize_version(dist.version):
        raise InvalidInput(
            f"Invalid distribution file. Version {version!r} does not match the filename"
            f" {dist.filename!r}."
        )


def parse_upload_form(fields: Fields, dist: DistributionFilename) -> UploadForm:
    """Check the form against the file's name; the file's own bytes are checked later."""
    check_action(fields)
    name = _required(fields, "name")
    version = _required(fields, "version")
    metadata_version = _metadata_version(fields)
    _check_name_version(name, version, dist)
    requires_python = _one(fields, "requires_python")
    if requires_python:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier as exc:
            raise InvalidInput(
                f"{_shown(requires_python)} is an invalid value for Requires-Python. Error: {exc}"
            ) from exc
    return UploadForm(
        name=name,
        version=version,
        metadata_version=metadata_version,
        filetype=_filetype(fields, dist),
        pyversion=_pyversion(fields, dist),
        digests=parse_digests(fields),
        comment=_one(fields, "comment"),
        metadata=form_metadata(fields),
    )
