"""Upstream project pages: PEP 691 JSON, PEP 503 HTML, or one find-links page, read
(``page_formats``) into the files a proxy can offer.

An upstream page is untrusted input: anything that cannot be parsed is an ``UpstreamError``
naming the page, and a link that cannot be offered safely (another project's file, a URL that
is not http(s), a malformed digest, a number that fits no database column) is dropped or
cleaned, never passed on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from msgspec import UNSET

from stilton.core.errors import UpstreamError
from stilton.core.filenames import FilenameMatcher, PackageType
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.core.upstream import origin_of, redact_url
from stilton.upstream.model import PageFiles, Row, UpstreamPage
from stilton.upstream.page_formats import (
    JsonFile,
    RawLink,
    RawPage,
    joiner,
    read_html_page,
    read_json_document,
    read_typed_json_document,
)

logger = logging.getLogger("stilton.upstream")

JSON_TYPES = ("application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json")
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html", "application/xhtml+xml")
HEX = frozenset("0123456789abcdef")
_LOWER_SHA256 = re.compile(r"[0-9a-f]{64}")  # as almost every upstream writes it
MAX_COUNT = 2**63 - 1  # sizes and serials are stored as 64-bit integers
# What a hostile page can make the parsers raise; each becomes an UpstreamError.
# (Python's HTMLParser has raised AssertionError on some malformed markup.)
PARSE_ERRORS = (ValueError, KeyError, TypeError, RecursionError, AssertionError)


class _Links:
    """Turns a page's links into the files a proxy offers: only wheels and sdists of this very
    project, at http(s) URLs. Origins and names repeat across a page, so each is checked once."""

    def __init__(self, project: ProjectName) -> None:
        self.filenames = FilenameMatcher(project)
        self._origins: dict[str, bool] = {}

    def _http(self, url: str) -> bool:
        start = url.find("://") + 3
        end = url.find("/", start) if start > 2 else -1
        key = url if end < 0 else url[:end]
        known = self._origins.get(key)
        if known is None:
            known = self._origins[key] = origin_of(url) is not None
        return known

    def from_json(self, entry: object, join: Callable[[str], str]) -> Row | None:
        """A PEP 691 file entry, read in one pass into a row (a page may hold 15,000)."""
        if type(entry) is not dict:
            return None
        filename, url = entry.get("filename"), entry.get("url")
        if type(filename) is not str or type(url) is not str:
            return None
        kind = self.filenames.kind(filename)
        if kind is None:
            return None
        url = join(url)
        if not self._http(url):
            return None
        wheel = kind[1] is PackageType.WHEEL
        hashes = entry.get("hashes")
        metadata = entry.get("core-metadata", entry.get("data-dist-info-metadata"))
        yanked = entry.get("yanked", False)
        provenance = entry.get("provenance")
        return [
            filename,
            url,
            kind[0],
            (_sha256(hashes) or None) if type(hashes) is dict else None,
            _count(entry.get("size")),
            _time(entry.get("upload-time")),
            _text(entry.get("requires-python")),
            (_text(yanked) or True) if yanked is True or type(yanked) is str else False,
            _metadata(metadata) if wheel else False,
            provenance if type(provenance) is str and self._http(provenance) else None,
        ]

    def from_typed(self, entry: JsonFile, join: Callable[[str], str]) -> Row | None:
        """A PEP 691 file entry that msgspec has typed: ``from_json`` without the type checks."""
        filename = entry.filename
        kind = self.filenames.kind(filename)
        if kind is None:
            return None
        url = join(entry.url)
        if not self._http(url):
            return None
        metadata = entry.core_metadata
        if metadata is UNSET:
            metadata = entry.dist_info_metadata
        moment = entry.upload_time
        if moment is not None and moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        yanked = entry.yanked
        provenance = entry.provenance
        return [
            filename,
            url,
            kind[0],
            _sha256(entry.hashes) or None,
            _count(entry.size),
            moment,
            _text(entry.requires_python),
            (_text(yanked) or True) if type(yanked) is str else yanked,
            _metadata(metadata) if kind[1] is PackageType.WHEEL else False,
            provenance if provenance and self._http(provenance) else None,
        ]

    def from_link(self, link: RawLink) -> Row | None:
        kind = self.filenames.kind(link.filename)
        if kind is None or not self._http(link.url):
            return None
        provenance = link.provenance
        return [
            link.filename,
            link.url,
            kind[0],
            _sha256(link.hashes) or None,
            _count(link.size),
            _time(link.upload_time),
            _text(link.requires_python),
            (_text(link.yanked) or True) if link.yanked is not False else False,
            _metadata(link.metadata) if kind[1] is PackageType.WHEEL else False,
            provenance if provenance and self._http(provenance) else None,
        ]


def _metadata(value: object) -> bool | str:
    """PEP 658/714 as the upstream says it: False (not served), True, or its sha256."""
    if type(value) is dict:
        return _sha256(value) or True
    return value is True


def _time(value: object) -> datetime | None:
    """PEP 700 upload time, as an aware datetime in UTC; anything else counts as unknown."""
    if not value or type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11 reads PEP 700's trailing "Z"
    except ValueError:
        return None
    if moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sha256(digests: dict[str, str] | None) -> str:
    """A well-formed sha256, lowercased; a malformed one counts as none ("": the proxy then
    computes the digest itself)."""
    value = digests.get("sha256") if digests else None
    if type(value) is not str or len(value) != 64:
        return ""
    if _LOWER_SHA256.fullmatch(value):
        return value
    value = value.lower()
    return value if HEX.issuperset(value) else ""


def _count(value: object) -> int | None:
    """A non-negative integer that fits a database column, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_COUNT else None


def _text(value: object) -> str | None:
    """Free text without NUL characters (which PostgreSQL cannot store); empty means none."""
    if not value or type(value) is not str:
        return None
    return value.replace("\x00", "") or None


def _unique(rows: Iterable[Row], url: str) -> list[Row]:
    """One file per filename (the database, and every client, expect no more). A repeated link
    that agrees with the first, or lacks a sha256, is dropped and the first kept. Links that
    disagree on the sha256 are all dropped: there is no telling which bytes are meant, and
    offering either could serve the wrong ones."""
    first: dict[str, Row] = {}
    conflicting: set[str] = set()
    for row in rows:
        kept = first.setdefault(row[0], row)
        if kept is not row and kept[3] and row[3] and kept[3] != row[3]:
            conflicting.add(row[0])
    for filename in sorted(conflicting):
        logger.warning(
            "dropping %s: the upstream page %s links it with different sha256 digests",
            filename,
            redact_url(url),
        )
    if not conflicting:
        return list(first.values())
    return [row for name, row in first.items() if name not in conflicting]


def _status(raw: str | None) -> ProjectStatus:
    try:
        return ProjectStatus(raw) if raw else ProjectStatus.ACTIVE
    except ValueError:
        return ProjectStatus.ACTIVE  # PEP 792: an unknown status is treated as active


def parse_project_page(
    project: ProjectName, body: bytes, content_type: str, url: str, serial: int | None
) -> UpstreamPage:
    """Parse by the Content-Type the upstream declared; refuse anything else."""
    try:
        page, files = _read(body, content_type, url, project)
    except PARSE_ERRORS as exc:
        raise _unparsable(url, exc) from exc
    return UpstreamPage(
        project=project,
        files=PageFiles(files),
        serial=serial if serial is not None else _count(page.last_serial),
        status=_status(page.status),
        status_reason=_text(page.status_reason),
        versions=tuple(page.versions or ()),
    )


def _read(
    body: bytes, content_type: str, url: str, project: ProjectName
) -> tuple[RawPage, list[Row]]:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in JSON_TYPES:
        return read_json(body, url, project)
    if media_type in HTML_TYPES:
        page = read_html_page(body, url)
        links = _Links(project)
        files = (links.from_link(link) for link in page.links)
        return page, _unique((f for f in files if f is not None), url)
    raise UpstreamError(
        f"The upstream sent {content_type or 'no Content-Type'} for {redact_url(url)};"
        " expected a Simple API page (JSON or HTML)."
    )


def read_json(
    body: bytes, url: str, project: ProjectName, *, typed: bool = True
) -> tuple[RawPage, list[Row]]:
    """A PEP 691 page's facts and rows: typed by msgspec where every value has its specified
    type, else (or with ``typed=False``) read field by field; either way the same rows."""
    links = _Links(project)
    join = joiner(url)
    read = read_typed_json_document(body) if typed else None
    if read is not None:
        page, typed_entries = read
        files = (links.from_typed(entry, join) for entry in typed_entries)
    else:
        page, entries = read_json_document(body)
        files = (links.from_json(entry, join) for entry in entries)
    return page, _unique((f for f in files if f is not None), url)


def _unparsable(url: str, exc: BaseException) -> UpstreamError:
    deep = isinstance(exc, RecursionError) or "depth limit" in str(exc)  # orjson says so
    reason = "it is nested too deeply" if deep else str(exc)
    return UpstreamError(
        f"The upstream's page at {redact_url(url)} cannot be parsed: {reason[:500]}"
    )
