"""The local upstream: a static PEP 503 tree rendered from a corpus, shaped like the public index.

``simple/index.html`` lists the projects; ``simple/<project>/index.html`` links each wheel as
``../../files/<filename>#sha256=<hex>`` with ``data-requires-python`` and PEP 658/714 core
metadata, which is served beside the wheel as ``<filename>.metadata``. Any static file server can
serve the tree. The suite's tree also holds each page as PEP 691 JSON (``index.json``) and both
forms gzipped beside them (``*.gz``, for nginx's ``gzip_static``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import json
import os
import shutil
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path

from packaging.utils import NormalizedName

from bench.corpus import Corpus, CorpusError, CorpusFile

API_VERSION = "1.0"  # PEP 629: the HTML form carries no field of a later version
FILES_DIR = "files"
SIMPLE_DIR = "simple"
INDEX_FILE = "index.html"
JSON_FILE = "index.json"


@dataclass(frozen=True, slots=True)
class TreeFile:
    """A wheel as its project page links it."""

    file: CorpusFile
    metadata_sha256: str
    requires_python: str | None


def read_wheel_metadata(path: Path) -> bytes:
    """The bytes of the wheel's ``*.dist-info/METADATA`` (PEP 658: served unchanged)."""
    with zipfile.ZipFile(path) as archive:
        candidates = [
            name
            for name in archive.namelist()
            if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            raise CorpusError(f"{path.name} has {len(candidates)} top-level METADATA files")
        return archive.read(candidates[0])


def read_requires_python(metadata: bytes) -> str | None:
    """The wheel's ``Requires-Python``, as its METADATA says (or ``None``)."""
    value = BytesParser().parsebytes(metadata, headersonly=True).get("Requires-Python")
    return str(value).strip() if value else None


def render_project_page(project: NormalizedName, files: list[TreeFile]) -> str:
    """A PEP 503 project page with hashes, ``data-requires-python`` and core metadata."""
    links = []
    for entry in sorted(files, key=lambda item: item.file.filename):
        name = entry.file.filename
        attributes = f' data-core-metadata="sha256={entry.metadata_sha256}"'
        attributes += f' data-dist-info-metadata="sha256={entry.metadata_sha256}"'
        if entry.requires_python:
            # PEP 503: the specifier is HTML-escaped (`&gt;=3.8`).
            attributes += f' data-requires-python="{html.escape(entry.requires_python)}"'
        href = f"../../{FILES_DIR}/{name}#sha256={entry.file.sha256}"
        links.append(f'    <a href="{html.escape(href)}"{attributes}>{html.escape(name)}</a><br>')
    return _page(f"Links for {project}", links)


def render_project_list(projects: list[NormalizedName]) -> str:
    """The PEP 503 root page: one link per project."""
    return _page("Simple index", [f'    <a href="{p}/">{p}</a><br>' for p in sorted(projects)])


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        + "\n".join(body)
        + "\n  </body>\n</html>\n"
    )


def place_file(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` where the file system allows, else a copy."""
    with contextlib.suppress(OSError):
        os.link(source, target)
        return
    shutil.copyfile(source, target)


def link_dists(corpora: Sequence[Corpus], directory: Path) -> Path:
    """One flat directory holding every wheel of ``corpora`` (what pypiserver and
    ``stilton import`` are pointed at)."""
    directory.mkdir(parents=True)
    for corpus in corpora:
        for file in corpus.files:
            place_file(corpus.path(file), directory / file.filename)
    return directory


def build_tree(corpus: Corpus, root: Path) -> Path:
    """Write the static tree of ``corpus`` under ``root`` and return it."""
    _write_tree([corpus], root)
    return root


def build_suite_tree(corpora: Sequence[Corpus], root: Path) -> Path:
    """The tree of all ``corpora``, with JSON pages and gzipped copies of every page."""
    projects = _write_tree(corpora, root)
    for project, files in projects.items():
        page = root / SIMPLE_DIR / project
        (page / JSON_FILE).write_text(render_project_json(project, files))
        for name in (INDEX_FILE, JSON_FILE):
            (page / f"{name}.gz").write_bytes(gzip.compress((page / name).read_bytes(), 6))
    return root


def _write_tree(
    corpora: Sequence[Corpus], root: Path
) -> defaultdict[NormalizedName, list[TreeFile]]:
    files_dir = root / FILES_DIR
    files_dir.mkdir(parents=True)
    projects: defaultdict[NormalizedName, list[TreeFile]] = defaultdict(list)
    for corpus in corpora:
        for file in corpus.files:
            target = files_dir / file.filename
            place_file(corpus.path(file), target)
            metadata = read_wheel_metadata(target)
            (files_dir / f"{file.filename}.metadata").write_bytes(metadata)
            digest = hashlib.sha256(metadata).hexdigest()
            projects[file.project].append(TreeFile(file, digest, read_requires_python(metadata)))
    simple = root / SIMPLE_DIR
    for project, files in projects.items():
        (simple / project).mkdir(parents=True)
        (simple / project / INDEX_FILE).write_text(render_project_page(project, files))
    (simple / INDEX_FILE).write_text(render_project_list(list(projects)))
    return projects


def render_project_json(project: NormalizedName, files: list[TreeFile]) -> str:
    """The same page as PEP 691 JSON (URLs relative to the page, as in the HTML form)."""
    entries = []
    for entry in sorted(files, key=lambda item: item.file.filename):
        item: dict[str, object] = {
            "filename": entry.file.filename,
            "url": f"../../{FILES_DIR}/{entry.file.filename}",
            "hashes": {"sha256": entry.file.sha256},
            "core-metadata": {"sha256": entry.metadata_sha256},
            "dist-info-metadata": {"sha256": entry.metadata_sha256},
        }
        if entry.requires_python:
            item["requires-python"] = entry.requires_python
        entries.append(item)
    document = {"meta": {"api-version": API_VERSION}, "name": project, "files": entries}
    return json.dumps(document, separators=(",", ":"))
