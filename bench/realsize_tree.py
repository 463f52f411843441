"""The static upstream of ``realsize``: each project page lists its real pinned wheel plus
synthetic entries up to the size the public index's page has (``page_files.py``), as PEP 503 HTML
(``index.html``) and PEP 691 v1.1 JSON (``index.json``), each also gzipped (``*.gz``).

Only the real wheels (and their ``.metadata``) are files in the tree; a synthetic URL is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import Version

from bench.corpus import Corpus, CorpusError, CorpusFile
from bench.page_files import NEWEST_UPLOAD, PageFile, synthetic_files
from bench.page_sizes import PageSize
from bench.upstream import (
    FILES_DIR,
    INDEX_FILE,
    JSON_FILE,
    SIMPLE_DIR,
    place_file,
    read_requires_python,
    read_wheel_metadata,
    render_project_list,
)

API_VERSION = "1.1"  # PEP 700: sizes, upload times and the versions list in the JSON form
GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Tree:
    """A written tree: where it is, and how many files and JSON bytes its pages list."""

    root: Path
    projects: tuple[NormalizedName, ...]
    listed_files: int
    json_bytes: int


def real_entry(corpus: Corpus, file: CorpusFile, files_dir: Path) -> PageFile:
    """The pinned wheel, placed in the tree with its core metadata beside it."""
    target = files_dir / file.filename
    place_file(corpus.path(file), target)
    metadata = read_wheel_metadata(target)
    (files_dir / f"{file.filename}.metadata").write_bytes(metadata)
    return PageFile(
        filename=file.filename,
        version=file.version,
        url=f"../../{FILES_DIR}/{file.filename}",
        sha256=file.sha256,
        size=target.stat().st_size,
        upload_time=NEWEST_UPLOAD,
        requires_python=read_requires_python(metadata),
        metadata_sha256=hashlib.sha256(metadata).hexdigest(),
    )


def render_page_html(project: NormalizedName, files: Sequence[PageFile]) -> str:
    """PEP 503 with the data attributes of PEPs 345/592/658/714, like the public index's."""
    links = []
    for entry in files:
        attributes = ""
        if entry.requires_python:
            # PEP 503: the specifier is HTML-escaped (`&gt;=3.8`).
            attributes += f' data-requires-python="{html.escape(entry.requires_python)}"'
        if entry.metadata_sha256:
            attributes += f' data-dist-info-metadata="sha256={entry.metadata_sha256}"'
            attributes += f' data-core-metadata="sha256={entry.metadata_sha256}"'
        if entry.yanked:
            attributes += ' data-yanked=""'
        href = html.escape(f"{entry.url}#sha256={entry.sha256}")
        links.append(f'    <a href="{href}"{attributes}>{html.escape(entry.filename)}</a><br />')
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>Links for {html.escape(project)}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {html.escape(project)}</h1>\n"
        + "\n".join(links)
        + "\n  </body>\n</html>\n"
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_page_json(project: NormalizedName, files: Sequence[PageFile]) -> str:
    """The same page as PEP 691 JSON, API version 1.1 (PEP 700)."""
    entries = []
    for entry in files:
        metadata: dict[str, str] | bool = (
            {"sha256": entry.metadata_sha256} if entry.metadata_sha256 else False
        )
        entries.append(
            {
                "filename": entry.filename,
                "url": entry.url,
                "hashes": {"sha256": entry.sha256},
                "requires-python": entry.requires_python,
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "size": entry.size,
                "upload-time": _iso(entry.upload_time),
                "yanked": entry.yanked,
            }
        )
    versions = sorted({entry.version for entry in files}, key=Version)
    document = {
        "meta": {"api-version": API_VERSION},
        "name": project,
        "versions": versions,
        "files": entries,
    }
    return json.dumps(document, separators=(",", ":"))


def _write_page(directory: Path, name: str, text: str) -> int:
    data = text.encode()
    (directory / name).write_bytes(data)
    (directory / f"{name}.gz").write_bytes(gzip.compress(data, GZIP_LEVEL, mtime=0))
    return len(data)


def build_realsize_tree(
    corpus: Corpus, sizes: Mapping[NormalizedName, PageSize], root: Path
) -> Tree:
    """Write the tree of ``corpus`` with pages as big as ``sizes`` says under ``root``."""
    files_dir = root / FILES_DIR
    files_dir.mkdir(parents=True)
    simple = root / SIMPLE_DIR
    listed = json_bytes = 0
    for file in corpus.files:
        size = sizes.get(file.project)
        if size is None:
            raise CorpusError(f"the page sizes do not list {file.project}; run record-sizes")
        real = real_entry(corpus, file, files_dir)
        entries = sorted(
            [real, *synthetic_files(file, real.size, size)], key=lambda item: item.filename
        )
        page = simple / file.project
        page.mkdir(parents=True)
        _write_page(page, INDEX_FILE, render_page_html(file.project, entries))
        json_bytes += _write_page(page, JSON_FILE, render_page_json(file.project, entries))
        listed += len(entries)
    projects = tuple(sorted(file.project for file in corpus.files))
    _write_page(simple, INDEX_FILE, render_project_list(list(projects)))
    project_list = {
        "meta": {"api-version": API_VERSION},
        "projects": [{"name": p} for p in projects],
    }
    _write_page(simple, JSON_FILE, json.dumps(project_list))
    return Tree(root, projects, listed, json_bytes)


def smoke_sizes(corpus: Corpus, files: int) -> dict[NormalizedName, PageSize]:
    """Made-up page sizes for a smoke run: ``files`` entries per project, one version in ten
    with an sdist."""
    versions = max(2, files // 10)
    sdists = min(versions, files - 1)  # the pinned wheel is always listed
    return {
        file.project: PageSize(
            file.project, files, files - sdists, sdists, 0, versions, json_bytes=0
        )
        for file in corpus.files
    }
