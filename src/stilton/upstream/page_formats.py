"""Reading the two wire formats of an upstream project page, PEP 691 JSON and PEP 503 HTML,
into plain link records, fast enough for pages of 15,000 files.

pypi-simple reads the same formats into its object model (and the tests hold these readers to
it, page for page), but at a cost that matters here: on a 15,000-file page it takes ~0.8 s of
CPU for JSON and ~1.8 s for HTML (validation models, a URL join per link, BeautifulSoup),
against ~0.1 s and ~0.15 s for these. Only what a proxy offers is read; a field of the wrong
type is treated as absent.

A JSON page is first decoded by msgspec into typed entries (``read_typed_json_document``),
which does in C what would otherwise be a dictionary lookup and a type check per field per file.
It accepts only a page whose every field read has its specified type; any other page (hostile or
merely unusual) is read by ``read_json_document``, field by field, exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import msgspec
import orjson
from msgspec import UNSET, UnsetType
from selectolax.lexbor import LexborHTMLParser

HEX = frozenset("0123456789abcdefABCDEF")
SUPPORTED_MAJOR = 1  # PEP 629: a page of a greater major API version cannot be read


class UnsupportedVersion(ValueError):
    """The page declares an API version this reader does not know."""


@dataclass(slots=True)
class RawLink:
    """One file link as the page gave it (the URL made absolute)."""

    filename: str
    url: str
    hashes: dict[str, str]
    requires_python: str | None = None
    yanked: bool | str = False  # a string is the reason
    metadata: bool | dict[str, str] = False  # PEP 714 core-metadata: present, with hashes
    size: object = None
    upload_time: str | None = None
    provenance: str | None = None


@dataclass(slots=True)
class RawPage:
    links: list[RawLink] = field(default_factory=list)
    versions: list[str] | None = None
    last_serial: object = None
    status: str | None = None
    status_reason: str | None = None


def _check_api_version(declared: object) -> None:
    if not isinstance(declared, str):
        return
    major = declared.partition(".")[0].strip()
    if major.isdigit() and int(major) > SUPPORTED_MAJOR:
        raise UnsupportedVersion(f"the page declares API version {declared}")


def joiner(base: str) -> Callable[[str], str]:
    """Makes a page's links absolute. Absolute links need nothing; a plain relative path (a
    static tree's "../../packages/ab/cd/x.whl") is resolved without urljoin, which costs more
    than the rest of reading a link; anything else goes through urljoin."""
    scheme, sep, rest = base.partition("://")
    host, _, path = rest.partition("/")
    directory = path.split("?", 1)[0].split("#", 1)[0].split("/")[:-1]
    simple_base = bool(sep) and not {"", ".", ".."} & set(directory)
    # What "../" * ups + a plain path resolves under, for each number of ups.
    prefixes = [
        f"{scheme}://{host}/" + "".join(f"{part}/" for part in directory[: len(directory) - ups])
        for ups in range(len(directory) + 1)
    ]

    def join(url: str) -> str:
        if url.startswith(("https://", "http://")):
            return url
        ups = 0
        while url.startswith("../"):
            url, ups = url[3:], ups + 1
        plain = (
            simple_base
            and ups <= len(directory)
            and url
            and not url.startswith(("/", ".", "?", "#"))
            and ":" not in url.partition("/")[0]
            and "?" not in url
            and "#" not in url
            and "\\" not in url
            and "//" not in url
            and "/." not in url
        )
        if not plain:
            return urljoin(base, "../" * ups + url)
        return prefixes[ups] + url

    return join


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _hashes(value: object) -> dict[str, str]:
    """A hashes object as given (the digest readers check each value's type)."""
    return value if isinstance(value, dict) else {}


def _metadata(entry: dict[str, Any]) -> bool | dict[str, str]:
    value = entry.get("core-metadata", entry.get("data-dist-info-metadata"))
    if isinstance(value, dict):
        return _hashes(value)
    return value is True


def json_link(entry: object, join: Callable[[str], str]) -> RawLink | None:
    if not isinstance(entry, dict):
        return None
    filename, url = entry.get("filename"), entry.get("url")
    if not isinstance(filename, str) or not isinstance(url, str):
        return None
    yanked = entry.get("yanked", False)
    return RawLink(
        filename=filename,
        url=join(url),
        hashes=_hashes(entry.get("hashes")),
        requires_python=_str(entry.get("requires-python")),
        yanked=yanked if isinstance(yanked, bool | str) else False,
        metadata=_metadata(entry),
        size=entry.get("size"),
        upload_time=_str(entry.get("upload-time")),
        provenance=_str(entry.get("provenance")),
    )


def read_json_document(body: bytes) -> tuple[RawPage, list[Any]]:
    """A PEP 691 project page's facts, and its file entries as decoded (each to be read with
    ``json_link``, or by a reader of its own); ValueError if it is not such a page."""
    document = orjson.loads(body)  # its errors are ValueErrors; it refuses deep nesting
    if not isinstance(document, dict):
        raise ValueError("the page is not a JSON object")
    meta = document.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    _check_api_version(meta.get("api-version"))
    files = document.get("files")
    if not isinstance(files, list):
        raise ValueError("the page has no list of files")
    versions = document.get("versions")
    status = document.get("project-status")
    status = status if isinstance(status, dict) else {}
    page = RawPage(
        versions=[v for v in versions if isinstance(v, str)]
        if isinstance(versions, list)
        else None,
        last_serial=meta.get("_last-serial"),
        status=_str(status.get("status")),
        status_reason=_str(status.get("reason")),
    )
    return page, files


Digests = dict[str, str]


class JsonFile(msgspec.Struct, gc=False):
    """A PEP 691 file entry in which every field has its specified type (unknown keys are
    skipped). ``UNSET`` tells an absent ``core-metadata`` from a null one, as a dict lookup
    with a default does."""

    filename: str
    url: str
    hashes: Digests = msgspec.field(default_factory=dict)
    requires_python: str | None = msgspec.field(default=None, name="requires-python")
    core_metadata: bool | Digests | UnsetType | None = msgspec.field(
        default=UNSET, name="core-metadata"
    )
    dist_info_metadata: bool | Digests | UnsetType | None = msgspec.field(
        default=UNSET, name="data-dist-info-metadata"
    )
    size: int | None = None
    upload_time: datetime | None = msgspec.field(default=None, name="upload-time")
    yanked: bool | str = False
    provenance: str | None = None


class _JsonMeta(msgspec.Struct, gc=False):
    api_version: str | None = msgspec.field(default=None, name="api-version")
    last_serial: int | str | None = msgspec.field(default=None, name="_last-serial")


class _JsonStatus(msgspec.Struct, gc=False):
    status: str | None = None
    reason: str | None = None


class _JsonDocument(msgspec.Struct, gc=False):
    files: list[JsonFile]
    meta: _JsonMeta = msgspec.field(default_factory=_JsonMeta)
    versions: list[str] | None = None
    project_status: _JsonStatus | None = msgspec.field(default=None, name="project-status")


_TYPED = msgspec.json.Decoder(_JsonDocument)


def read_typed_json_document(body: bytes) -> tuple[RawPage, list[JsonFile]] | None:
    """A PEP 691 project page's facts and its typed file entries, or None if any value read is
    not of its specified type (or the body is not such a page at all): ``read_json_document``
    then reads it, leniently, and says what is wrong with it. UnsupportedVersion if the page
    declares a newer major API version."""
    try:
        document = _TYPED.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    _check_api_version(document.meta.api_version)
    status = document.project_status or _JsonStatus()
    page = RawPage(
        versions=document.versions,
        last_serial=document.meta.last_serial,
        status=status.status,
        status_reason=status.reason,
    )
    return page, document.files


def read_json_page(body: bytes, url: str) -> RawPage:
    """A PEP 691 project page (ValueError if it is not one)."""
    page, files = read_json_document(body)
    join = joiner(url)
    page.links = [link for link in (json_link(entry, join) for entry in files) if link]
    return page


def _html_metadata(attributes: dict[str, str]) -> bool | dict[str, str]:
    value = attributes.get("data-core-metadata", attributes.get("data-dist-info-metadata"))
    if value is None:
        return False
    name, sep, digest = value.partition("=")
    if (
        sep
        and name.isidentifier()
        and digest
        and all(c in "0123456789abcdefABCDEF" for c in digest)
    ):
        return {name: digest}
    return value.lower() == "true"


def _html_link(attributes: dict[str, str], text: str, join: Callable[[str], str]) -> RawLink:
    href, _, fragment = attributes["href"].partition("#")
    name, _, value = fragment.partition("=")
    yanked = attributes.get("data-yanked")
    return RawLink(
        filename=text.strip(),
        url=join(href),
        hashes={name: value} if value else {},
        requires_python=attributes.get("data-requires-python"),
        yanked=yanked if yanked else yanked is not None,
        metadata=_html_metadata(attributes),
        provenance=attributes.get("data-provenance"),
    )


# An HTML page is parsed into a tree (Lexbor, through selectolax: ~2 µs a link, against ~15 µs
# for the standard library's HTMLParser, which shows on pages of 15,000 links), unless it holds
# more tags than this: a tree costs ~200 bytes of memory per tag, and the biggest public pages
# have ~50,000, while 6 MB of nested "<b>" would make 2 million. Such a page is read by the
# streaming parser instead, in memory that grows with its links only.
TREE_TAGS = 250_000


@dataclass(slots=True)
class _HtmlParts:
    """What a PEP 503 page says: its anchors with an href (attributes with a value, and the
    text), its first <base href> and its pypi: <meta> tags."""

    anchors: list[tuple[dict[str, str], str]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    base: str | None = None

    def add_meta(self, name: str | None, content: str | None) -> None:
        if name and name.startswith("pypi:"):
            self.meta.setdefault(name, content or "")


def read_html_page(body: bytes, url: str) -> RawPage:
    """A PEP 503 project page (or any page of links: a find-links page). An attribute without
    a value counts as absent."""
    text = body.decode("utf-8", "replace")
    parts = _read_tree(text) if body.count(b"<") <= TREE_TAGS else _read_stream(text)
    _check_api_version(parts.meta.get("pypi:repository-version"))
    join = joiner(urljoin(url, parts.base) if parts.base else url)
    return RawPage(
        links=[_html_link(attributes, text, join) for attributes, text in parts.anchors],
        status=parts.meta.get("pypi:project-status"),
        status_reason=parts.meta.get("pypi:project-status-reason"),
    )


def _read_tree(text: str) -> _HtmlParts:
    tree = LexborHTMLParser(text)
    parts = _HtmlParts()
    for node in tree.css("meta"):
        parts.add_meta(node.attributes.get("name"), node.attributes.get("content"))
    parts.base = next(
        (href for node in tree.css("base") if (href := node.attributes.get("href")) is not None),
        None,
    )
    for node in tree.css("a"):
        attributes = {name: value for name, value in node.attributes.items() if value is not None}
        if "href" in attributes:
            parts.anchors.append((attributes, node.text(deep=True)))
    return parts


def _read_stream(text: str) -> _HtmlParts:
    collector = _LinkCollector()
    collector.feed(text)
    collector.close()
    parts = collector.parts
    parts.anchors = [(attributes, "".join(pieces)) for attributes, pieces in collector.texts]
    return parts


class _LinkCollector(HTMLParser):
    """``_HtmlParts`` read as the page streams past, without a tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts = _HtmlParts()
        self.texts: list[tuple[dict[str, str], list[str]]] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = {name: value for name, value in attrs if value is not None}
            if "href" in values:
                self._text = []
                self.texts.append((values, self._text))
        elif tag == "base" and self.parts.base is None:
            self.parts.base = dict(attrs).get("href")
        elif tag == "meta":
            meta = dict(attrs)
            self.parts.add_meta(meta.get("name"), meta.get("content"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
